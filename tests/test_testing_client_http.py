"""TestClient on httpx: redirects followed (opt-out), bodies decoded, cookies kept by their
attributes (Domain, Path, Secure, Max-Age), on ASGI and RSGI."""

from __future__ import annotations

import gzip

import brotli
import pytest
import zstandard

from tests.conftest import ClientFactory
from velocipy import RedirectResponse, Request, Response, VelociPy

TEXT = "decoded " * 100
ENCODERS = {
    "gzip": gzip.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def make_app() -> VelociPy:
    app = VelociPy()

    @app.get("/start")
    async def start() -> RedirectResponse:
        return RedirectResponse("/middle", status_code=302)

    @app.get("/middle")
    async def middle() -> RedirectResponse:
        return RedirectResponse("/end?x=1", status_code=307)

    @app.get("/end")
    async def end(request: Request) -> dict[str, str]:
        return {"query": request.query_string, "cookie": request.headers.get("cookie", "")}

    @app.post("/form")
    async def form() -> RedirectResponse:
        return RedirectResponse("/end", status_code=303)  # POST -> GET

    @app.get("/encoded/{coding}")
    async def encoded(coding: str) -> Response:
        body = ENCODERS[coding](TEXT.encode())
        headers = {"content-encoding": coding}
        return Response(body, headers=headers, media_type="text/plain")

    @app.get("/set")
    async def set_cookies() -> Response:
        response = Response("set")
        response.set_cookie("everywhere", "1")
        response.set_cookie("only_admin", "2", path="/admin")
        response.set_cookie("secure_only", "3", secure=True)
        response.set_cookie("other_host", "4", domain="other.example")
        return response

    @app.get("/forget")
    async def forget() -> Response:
        response = Response("forgot")
        response.delete_cookie("everywhere")
        return response

    @app.get("/admin/cookies")
    async def admin_cookies(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    return app


def test_redirects_are_followed_and_recorded(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    response = client.get("/start")
    assert response.status_code == 200
    assert response.json()["query"] == "x=1"
    assert response.url == "http://testserver/end?x=1"
    assert [(hop.status_code, hop.headers["location"]) for hop in response.history] == [
        (302, "/middle"),
        (307, "/end?x=1"),
    ]
    after_post = client.post("/form", content=b"data")
    assert (after_post.status_code, after_post.method) == (200, "GET")


def test_following_is_an_option(client_for: ClientFactory) -> None:
    client = client_for(make_app(), follow_redirects=False)
    response = client.get("/start")
    assert (response.status_code, response.headers["location"], response.history) == (
        302,
        "/middle",
        [],
    )
    assert client.get("/start", follow_redirects=True).status_code == 200


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_bodies_are_decoded(client_for: ClientFactory, coding: str) -> None:
    response = client_for(make_app()).get(f"/encoded/{coding}")
    assert response.headers["content-encoding"] == coding
    assert response.text == TEXT
    assert response.raw_content == ENCODERS[coding](TEXT.encode())


def test_cookies_go_where_their_attributes_say(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    client.get("/set")
    assert client.get("/cookies").json() == {"everywhere": "1"}
    assert client.get("/admin/cookies").json() == {"everywhere": "1", "only_admin": "2"}
    assert client.get("https://testserver/cookies").json() == {
        "everywhere": "1",
        "secure_only": "3",
    }
    # a Domain the answering host does not belong to is refused (RFC 6265 5.3): never sent
    assert client.get("http://other.example/cookies").json() == {}
    assert "other_host" not in client.cookies
    assert client.get("/cookies", cookies={"everywhere": "given"}).json() == {
        "everywhere": "given"  # a request's own cookies win over the jar's
    }
    client.get("/forget")
    assert client.get("/cookies").json() == {}
    assert client.cookies.get("only_admin") == "2"


def test_cookies_are_sent_along_redirects(client_for: ClientFactory) -> None:
    client = client_for(make_app(), cookies={"token": "t"})
    assert client.get("/start").json()["cookie"] == "token=t"
