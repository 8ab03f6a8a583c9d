"""TrustedHost, HTTPSRedirect and SecurityHeaders on both protocols, WebSocket handshakes too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from velocipy import Request, VelociPy, WebSocket
from velocipy.middleware import (
    HTTPSRedirectMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]


def make_app() -> VelociPy:
    app = VelociPy()

    @app.get("/where")
    async def where(request: Request) -> str:
        return str(request.url)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(str(websocket.url))
        await websocket.close()

    return app


def test_trusted_host(make_client: ClientFactory) -> None:
    app = make_app()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.org"])
    client = make_client(app)
    for host in ("example.com", "example.com:8000", "api.example.org", "A.B.EXAMPLE.ORG"):
        assert client.get("/where", headers={"host": host}).status_code == 200, host
    for host in ("evil.com", "example.org", "example.com.evil.com", "xexample.org"):
        response = client.get("/where", headers={"host": host})
        assert (response.status_code, response.text) == (400, "Invalid host header"), host
    with client.websocket_connect("/ws", headers={"host": "api.example.org"}) as session:
        assert session.receive_text().startswith("ws://api.example.org/ws")
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/ws", headers={"host": "evil.com"})
    assert denied.value.status_code == 400


def test_trusted_host_rejects_bad_patterns() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        TrustedHostMiddleware(allowed_hosts=["*example.com"])


def test_https_redirect(make_client: ClientFactory, protocol: str) -> None:
    app = make_app()
    app.add_middleware(HTTPSRedirectMiddleware)
    client = make_client(app, follow_redirects=False)
    response = client.get("http://example.com/where?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == "https://example.com/where?x=1"
    moved = client.get("http://example.com:8080/where")
    assert moved.headers["location"] == "https://example.com:8080/where"
    assert client.get("https://example.com/where").text == "https://example.com/where"
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("ws://example.com/ws")
    assert denied.value.status_code == 307
    if protocol == "asgi":  # RSGI refuses with the status only
        assert ("location", "wss://example.com/ws") in denied.value.headers
    with client.websocket_connect("wss://example.com/ws") as session:
        assert session.receive_text() == "wss://example.com/ws"


def test_https_redirect_permanent(client_for: ClientFactory) -> None:
    app = make_app()
    app.add_middleware(HTTPSRedirectMiddleware, status_code=308)
    assert client_for(app, follow_redirects=False).get("/where").status_code == 308
    with pytest.raises(ValueError, match="redirect"):
        HTTPSRedirectMiddleware(status_code=200)


def test_security_headers(client_for: ClientFactory) -> None:
    app = make_app()
    app.add_middleware(
        SecurityHeadersMiddleware, content_security_policy="default-src 'self'", frame_options=None
    )

    @app.get("/framed")
    async def framed() -> object:
        from velocipy import PlainTextResponse

        return PlainTextResponse("x", headers={"referrer-policy": "no-referrer"})

    client = client_for(app)
    plain = client.get("http://example.com/where")
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["content-security-policy"] == "default-src 'self'"
    assert "x-frame-options" not in plain.headers
    assert "strict-transport-security" not in plain.headers  # HSTS means nothing over http
    secure = client.get("https://example.com/where")
    assert secure.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert client.get("/framed").headers["referrer-policy"] == "no-referrer"  # handler's wins
    assert plain.headers["referrer-policy"] == "strict-origin-when-cross-origin"
