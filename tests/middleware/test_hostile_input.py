"""Hostile or malformed headers never make a built-in fail: a clear answer, no error logged."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable

import msgspec
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

HOME = "http://testserver/"
SOCKET = "ws://testserver/ws"
BAD_HOST = "Invalid host header"
# headers -> (the HTTP answer: 200 and the request URL the route saw, or the refusal's status and
# body; the WebSocket answer: the URL the socket saw, or the handshake's refusal status)
HOSTILE_HEADERS: list[tuple[dict[str, str], tuple[int, str], str | int]] = [
    ({"accept-encoding": "gzip;q=" + "9" * 400}, (200, HOME), SOCKET),
    ({"accept-encoding": ";;;,,,q=,gzip;;q=0.5;q=abc"}, (200, HOME), SOCKET),
    ({"accept-encoding": "gzip, " * 2000}, (200, HOME), SOCKET),
    (
        {"forwarded": 'for="[::1;proto=https;host='},
        (400, "Invalid forwarded host in Forwarded"),
        400,
    ),
    (
        {"forwarded": "for=unknown;proto=HTTPS;host=a.example, for=_hidden"},
        (200, "https://a.example/"),
        "wss://a.example/ws",
    ),
    ({"forwarded": "for=unknown;proto=https;host=evil.example"}, (400, BAD_HOST), 400),
    ({"forwarded": ";;;=,=;=="}, (200, HOME), SOCKET),
    ({"x-forwarded-for": ", , ,,[], 999.1.1.1, ::zz"}, (200, HOME), SOCKET),
    (
        {"x-forwarded-host": "bad host/../\\", "x-forwarded-proto": "javascript"},
        (400, "Invalid forwarded host in X-Forwarded-Host"),
        400,
    ),
    ({"x-forwarded-host": "evil.example"}, (400, BAD_HOST), 400),
    ({"origin": "null"}, (200, HOME), 403),
    ({"origin": "https://app.example.com\\@evil"}, (200, HOME), 403),
    ({"cookie": "session=" + "A" * 3000 + ".." + "B" * 10}, (200, HOME), SOCKET),
    ({"cookie": "session=%%%; other=1"}, (200, HOME), SOCKET),
    ({"host": "evil.example"}, (400, BAD_HOST), 400),
    ({"host": "a.example:8080"}, (200, "http://a.example:8080/"), "ws://a.example:8080/ws"),
    ({"host": "[::1"}, (400, BAD_HOST), 400),
    ({"host": ""}, (400, BAD_HOST), 400),
    ({"host": "a.example\u00e9"}, (400, BAD_HOST), 400),
]


def make_app() -> VelociPy:
    app = VelociPy(
        middleware=[
            ProxyHeadersMiddleware(trusted_proxies="*"),
            TrustedHostMiddleware(allowed_hosts=["testserver", "a.example"]),
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


@pytest.mark.parametrize(("headers", "answer", "socket"), HOSTILE_HEADERS)
def test_hostile_headers_get_a_clear_answer(
    make_client: ClientFactory,
    headers: dict[str, str],
    answer: tuple[int, str],
    socket: str | int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(make_app())
    with caplog.at_level(logging.WARNING, logger="velocipy"):
        response = client.get("/", headers=headers)
        status, said = answer
        assert response.status_code == status, response.text
        if status == 200:
            seen = msgspec.json.decode(
                gzip.decompress(response.raw_content)
                if response.headers.get("content-encoding") == "gzip"
                else response.content
            )
            assert seen["url"] == said
        else:
            assert response.text == said
        try:
            with client.websocket_connect("/ws", headers=headers) as session:
                outcome: str | int = session.receive_text()
        except WebSocketDenied as denied:
            outcome = denied.status_code
        assert outcome == socket
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
