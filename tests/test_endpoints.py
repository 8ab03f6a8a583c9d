"""Class-based endpoints: a controller and a WebSocket listener, on ASGI and RSGI."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tests.conftest import ClientFactory
from velocipy import Depends, HTTPException, Request, VelociPy, WebSocket
from velocipy.endpoints import Controller, WebSocketListener, route
from velocipy.testing import WebSocketClosed, WebSocketDenied

CALLS: list[str] = []


def require_key(request: Request) -> None:
    if request.headers.get("x-key") != "k":
        raise HTTPException(401, "key needed")


class Item(msgspec.Struct):
    name: str


class Items(Controller):
    """Items in a store."""

    path = "/items"
    dependencies = (Depends(require_key),)
    tags = ("items",)

    def __init__(self) -> None:
        self.store: dict[int, str] = {1: "one"}

    async def get(self) -> dict[int, str]:
        return self.store

    async def post(self, item: Item) -> dict[str, Any]:
        self.store[len(self.store) + 1] = item.name
        return {"id": len(self.store)}

    @route("/{item_id:int}")
    async def read(self, item_id: int) -> str:
        if item_id not in self.store:
            raise HTTPException(404, "no such item")
        return self.store[item_id]

    @route("/{item_id:int}", methods=["DELETE"], status_code=204)
    async def remove(self, item_id: int) -> None:
        self.store.pop(item_id, None)

    @route("/count", methods=["GET", "POST"])
    async def count(self) -> int:
        return len(self.store)

    def _helper(self) -> None:  # not a route
        raise AssertionError


def make_app() -> VelociPy:
    app = VelociPy()
    app.include_router(Items.as_router())
    app.include_router(Chat.as_router())
    return app


KEY = {"x-key": "k"}


def test_controller_routes_and_shared_dependencies(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    assert client.get("/items", headers=KEY).json() == {"1": "one"}
    assert client.post("/items", json={"name": "two"}, headers=KEY).json() == {"id": 2}
    assert client.get("/items/2", headers=KEY).text == "two"
    assert client.get("/items/9", headers=KEY).status_code == 404
    assert client.delete("/items/2", headers=KEY).status_code == 204
    assert client.post("/items/count", headers=KEY).json() == 1
    assert client.head("/items", headers=KEY).status_code == 200
    for method, path in [("GET", "/items"), ("POST", "/items/count"), ("GET", "/items/1")]:
        refused = client.request(method, path)
        assert (refused.status_code, refused.json()) == (401, {"detail": "key needed"})
    assert client.put("/items", headers=KEY).status_code == 405
    assert client.post("/items", json={"nom": 1}, headers=KEY).status_code == 422


def test_controller_is_compiled_like_functions() -> None:
    app = make_app()
    routes = {(r.path, r.methods): r for r in app.routes if r.kind == "http"}
    read = routes["/items/{item_id:int}", ("GET", "HEAD")]
    assert read.name == "Items.read"
    # one instance's bound method is the handler: no wrapper of ours around it
    assert read.endpoint.__func__ is Items.read  # type: ignore[attr-defined]
    assert {r.name for r in routes.values()} >= {"Items.get", "Items.post", "Items.remove"}

    class Plain(Controller):
        path = "/plain"

        async def get(self) -> str:
            return "plain"

    plain = VelociPy()
    plain.include_router(Plain.as_router())
    (compiled,) = [r.compiled for r in plain.routes if r.path == "/plain"]
    # dispatch calls the bound method itself, as it calls a parameterless function
    assert (compiled.invoke.__func__, compiled.takes_request) == (Plain.get, False)
    operations = app.openapi()["paths"]["/items/{item_id}"]
    assert operations["get"]["tags"] == ["items"]


def test_a_controller_without_routes_is_refused() -> None:
    class Empty(Controller):
        path = "/empty"

    with pytest.raises(TypeError, match=r"controller .*Empty has no routes"):
        Empty.as_router()

    class Unrooted(Controller):
        path = "items"

        async def get(self) -> str:
            return ""

    with pytest.raises(ValueError, match="must start with '/'"):
        Unrooted.as_router()


class Say(msgspec.Struct):
    text: str
    loud: bool = False


class Chat(WebSocketListener):
    """A chat room."""

    path = "/chat"
    receives = Say
    sends = str

    async def on_connect(self, websocket: WebSocket) -> None:
        if websocket.query_params.get("name") is None:
            await websocket.close()  # refuse
            return
        await websocket.accept()
        CALLS.append("connect")

    async def on_receive(self, websocket: WebSocket, data: Say) -> None:
        assert isinstance(data, Say)
        await websocket.send_text(data.text.upper() if data.loud else data.text)

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        CALLS.append(f"disconnect {close_code}")


def test_listener_receives_typed_messages(client_for: ClientFactory, protocol: str) -> None:
    CALLS.clear()
    client = client_for(make_app())
    with client.websocket_connect("/chat?name=a") as ws:
        ws.send_json({"text": "hi"})
        assert ws.receive_text() == "hi"
        ws.send_json({"text": "hi", "loud": True})
        assert ws.receive_text() == "HI"
        ws.close(4000)
    assert CALLS == ["connect", f"disconnect {4000 if protocol == 'asgi' else 1005}"]


def test_listener_invalid_message_closes_with_1007(client_for: ClientFactory) -> None:
    CALLS.clear()
    with client_for(make_app()).websocket_connect("/chat?name=a") as ws:
        ws.send_json({"words": 1})
        with pytest.raises(WebSocketClosed):
            ws.receive_text()
    assert CALLS == ["connect", "disconnect 1007"]


def test_listener_refuses_in_on_connect(client_for: ClientFactory) -> None:
    CALLS.clear()
    with pytest.raises(WebSocketDenied):
        with client_for(make_app()).websocket_connect("/chat"):
            pass
    assert CALLS == []


def test_listener_is_described_in_asyncapi() -> None:
    document = make_app().asyncapi()
    text = msgspec.json.encode(document).decode()
    assert "/chat" in text
    assert '"loud"' in text  # the Say schema
    assert "A chat room." in text
