"""Hostile or malformed headers never make a built-in fail: a clear answer, no error logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from velocipy import Request, VelociPy, WebSocket
from velocipy.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    HTTPSRedirectMiddleware,
    ProxyHeadersMiddleware,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    TrustedHostMiddleware,
)
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]

HOSTILE_HEADERS = [
    {"accept-encoding": "gzip;q=" + "9" * 400},
    {"accept-encoding": ";;;,,,q=,gzip;;q=0.5;q=abc"},
    {"accept-encoding": "gzip, " * 2000},
    {"forwarded": 'for="[::1;proto=https;host='},
    {"forwarded": "for=unknown;proto=HTTPS;host=a.example, for=_hidden"},
    {"forwarded": ";;;=,=;=="},
    {"x-forwarded-for": ", , ,,[], 999.1.1.1, ::zz"},
    {"x-forwarded-host": "bad host/../\\", "x-forwarded-proto": "javascript"},
    {"origin": "null"},
    {"origin": "https://app.example.com\\@evil"},
    {"cookie": "session=" + "A" * 3000 + ".." + "B" * 10},
    {"cookie": "session=%%%; other=1"},
    {"host": "[::1"},
    {"host": ""},
]


def make_app() -> VelociPy:
    app = VelociPy(
        middleware=[
            ProxyHeadersMiddleware(trusted_proxies="*"),
            TrustedHostMiddleware(allowed_hosts=["*"]),
            CORSMiddleware(allow_origins=["https://app.example.com"], allow_credentials=True),
            GZipMiddleware(minimum_size=10),
            SessionMiddleware(secret_key="hostile-input-secret-key"),
            SecurityHeadersMiddleware(),
        ],
        websocket_origins=["https://app.example.com"],
    )

    @app.get("/")
    async def home(request: Request) -> dict[str, object]:
        client = request.client
        return {
            "url": str(request.url),
            "client": client.host if client else None,
            "session": request.session,
        }

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(str(websocket.url))

    return app


@pytest.mark.parametrize("headers", HOSTILE_HEADERS)
def test_hostile_headers_get_a_clear_answer(
    make_client: ClientFactory, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(make_app())
    with caplog.at_level(logging.WARNING, logger="velocipy"):
        response = client.get("/", headers=headers)
        assert response.status_code in (200, 400), response.text
        refused: int | None = None
        try:
            with client.websocket_connect("/ws", headers=headers) as session:
                session.receive_text()
        except WebSocketDenied as denied:
            refused = denied.status_code
        assert refused in (None, 400, 403)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_redirect_keeps_a_hostile_path_inert(client_for: ClientFactory) -> None:
    app = VelociPy(middleware=[HTTPSRedirectMiddleware()])
    response = client_for(app, follow_redirects=False).get(
        "http://example.com//evil.example/%0d%0aset-cookie:x=1"
    )
    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith("https://example.com//evil.example/")
    assert "\r" not in location
    assert "\n" not in location
