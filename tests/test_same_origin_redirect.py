"""RedirectResponse.same_origin: a redirect target from the client never leaves the site."""

from __future__ import annotations

from typing import Any

import pytest

from velocipy import RedirectResponse, VelociPy


def login_app() -> VelociPy:
    app = VelociPy()

    @app.post("/login")
    async def login(next: str = "/") -> RedirectResponse:
        return RedirectResponse.same_origin(next, fallback="/home")

    return app


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/account", "/account"),
        ("/search?q=a&page=2#top", "/search?q=a&page=2#top"),
        ("//evil.example", "/home"),
        ("//evil.example/path", "/home"),
        ("/\\evil.example", "/home"),
        ("https://evil.example", "/home"),
        ("javascript:alert(1)", "/home"),
        ("evil.example", "/home"),
        ("\t//evil.example", "/home"),
        ("/\t/evil.example", "/home"),
        (" /account", "/home"),
        ("", "/home"),
    ],
)
def test_redirect_stays_on_the_site(client_for: Any, target: str, location: str) -> None:
    client = client_for(login_app(), follow_redirects=False)
    response = client.post("/login", params={"next": target})
    assert response.status_code == 303
    assert response.headers["location"] == location
