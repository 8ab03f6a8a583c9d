"""ProxyHeadersMiddleware on both protocols: trusted peers only, X-Forwarded-* and Forwarded."""

from __future__ import annotations

from collections.abc import Callable

from velocipy import Request, VelociPy, WebSocket
from velocipy.middleware import ProxyHeadersMiddleware
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
FORGED = {
    "x-forwarded-for": "6.6.6.6",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "bank.example",
}


def make_app(trusted: list[str]) -> VelociPy:
    app = VelociPy()
    app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=trusted)

    @app.get("/who")
    async def who(request: Request) -> dict[str, object]:
        client = request.client
        return {"client": client.host if client else None, "url": str(request.url)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        client = websocket.client
        await websocket.send_json(
            {"client": client.host if client else None, "url": str(websocket.url)}
        )
        await websocket.close()

    return app


def test_forged_headers_from_an_untrusted_peer_change_nothing(make_client: ClientFactory) -> None:
    client = make_client(make_app(["10.0.0.0/8"]), client_address=("203.0.113.9", 4000))
    assert client.get("/who", headers=FORGED).json() == {
        "client": "203.0.113.9",
        "url": "http://testserver/who",
    }
    forwarded = {"forwarded": 'for=6.6.6.6;proto=https;host="bank.example"'}
    assert client.get("/who", headers=forwarded).json()["client"] == "203.0.113.9"
    with client.websocket_connect("/ws", headers=FORGED) as session:
        assert session.receive_json() == {"client": "203.0.113.9", "url": "ws://testserver/ws"}


def test_trusted_proxy_sets_client_scheme_and_host(make_client: ClientFactory) -> None:
    client = make_client(make_app(["10.0.0.0/8"]), client_address=("10.1.2.3", 4000))
    assert client.get("/who", headers=FORGED).json() == {
        "client": "6.6.6.6",
        "url": "https://bank.example/who",
    }
    with client.websocket_connect("/ws", headers=FORGED) as session:
        assert session.receive_json() == {"client": "6.6.6.6", "url": "wss://bank.example/ws"}


def test_chain_takes_the_rightmost_untrusted_address(client_for: ClientFactory) -> None:
    client = client_for(make_app(["10.0.0.0/8"]), client_address=("10.0.0.1", 4000))
    spoofed = {"x-forwarded-for": "1.1.1.1, 198.51.100.7, 10.0.0.5"}
    assert client.get("/who", headers=spoofed).json()["client"] == "198.51.100.7"


def test_forwarded_header(client_for: ClientFactory) -> None:
    client = client_for(make_app(["127.0.0.1", "::1"]))
    headers = {"forwarded": 'for="[2001:db8::1]:443";proto=https;host=shop.example, for=127.0.0.1'}
    assert client.get("/who", headers=headers).json() == {
        "client": "2001:db8::1",
        "url": "https://shop.example/who",
    }


def test_bad_proto_is_ignored(client_for: ClientFactory) -> None:
    client = client_for(make_app(["*"]))
    body = client.get("/who", headers={"x-forwarded-proto": "gopher"}).json()
    assert body["url"] == "http://testserver/who"
