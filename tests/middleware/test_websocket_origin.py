"""The WebSocket origin guard on both protocols: foreign origins refused with 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from velocipy import VelociPy, WebSocket
from velocipy.middleware import WebSocketOriginMiddleware
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]


def make_app(**options: object) -> tuple[VelociPy, list[str]]:
    app = VelociPy(**options)  # type: ignore[arg-type]
    ran: list[str] = []

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        ran.append(websocket.headers.get("origin", "-"))
        await websocket.accept()
        await websocket.send_text("welcome")
        await websocket.close()

    return app, ran


def connects(client: TestClient, origin: str | None, url: str = "/ws") -> bool:
    headers = {"origin": origin} if origin else {}
    try:
        with client.websocket_connect(url, headers=headers) as session:
            assert session.receive_text() == "welcome"
    except WebSocketDenied as denied:
        status = denied.status_code
    else:
        return True
    assert status == 403
    return False


def test_same_origin_and_listed_origins(make_client: ClientFactory) -> None:
    app, ran = make_app(websocket_origins=["https://app.example.com", "https://*.trusted.org"])
    client = make_client(app)
    assert connects(client, "http://testserver")  # the app's own origin
    assert connects(client, "https://app.example.com")
    assert connects(client, "https://eu.cdn.trusted.org")
    assert connects(client, None)  # not a browser
    assert not connects(client, "https://evil.example")
    assert not connects(client, "http://testserver:8080")  # another port is another origin
    assert not connects(client, "https://testserver")  # another scheme too
    assert not connects(client, "https://trusted.org.evil.com")
    assert not connects(client, "null")
    assert ran == [
        "http://testserver",
        "https://app.example.com",
        "https://eu.cdn.trusted.org",
        "-",
    ]


def test_secure_socket_matches_https_origin(make_client: ClientFactory) -> None:
    app, _ = make_app(websocket_origins=[])
    client = make_client(app)
    assert connects(client, "https://testserver", "wss://testserver/ws")
    assert not connects(client, "http://testserver", "wss://testserver/ws")


def test_as_middleware_without_same_origin(make_client: ClientFactory) -> None:
    app, _ = make_app()
    app.add_middleware(
        WebSocketOriginMiddleware, allowed_origins=["https://a.example"], allow_same_origin=False
    )
    client = make_client(app)
    assert connects(client, "https://a.example")
    assert not connects(client, "http://testserver")


def test_http_routes_are_untouched(client_for: ClientFactory) -> None:
    app, _ = make_app(websocket_origins=[])

    @app.get("/")
    async def home() -> str:
        return "page"

    assert client_for(app).get("/", headers={"origin": "https://evil.example"}).text == "page"
    assert app.handle_http == app._dispatch_http  # a handshake-only middleware costs HTTP nothing


def test_no_guard_by_default(make_client: ClientFactory) -> None:
    app, _ = make_app()
    assert connects(make_client(app), "https://evil.example")
    with pytest.raises(AssertionError):
        assert not connects(make_client(app), "https://evil.example")


def test_a_single_origin_string_is_one_origin(make_client: ClientFactory) -> None:
    app, _ = make_app(websocket_origins="https://app.example.com")
    client = make_client(app)
    assert connects(client, "https://app.example.com")
    assert not connects(client, "h")
