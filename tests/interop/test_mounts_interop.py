"""Mounted ASGI apps on real uvicorn, granian ASGI and granian RSGI processes.

Strawberry over HTTP and graphql-transport-ws (the ``websockets`` client), python-socketio
with its own client (rooms and emits), a Starlette app with its own middleware and another
VelociPy app, each answering with its root_path. ``tests/interop/apps/mounts_app.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import socketio
from websockets.sync.client import connect

from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, running, server_argv

pytestmark = pytest.mark.interop

TIMEOUT = 10.0


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(str(request.param), "tests.interop.apps.mounts_app:app", port)
    with running(argv, port=port, cwd=REPO_ROOT) as process:
        yield process
        assert "Traceback" not in process.output(), process.output()


def graphql(server: ServerProcess, query: str, **headers: str) -> dict[str, object]:
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query}, headers=headers, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_graphql_query_and_mutation(server: ServerProcess) -> None:
    assert graphql(server, '{ hello(name: "mount") }') == {"data": {"hello": "Hello mount"}}
    seen = graphql(server, "{ seenBy }", **{"x-who": "tester"})
    assert seen == {"data": {"seenBy": "tester at startup"}}
    first = graphql(server, 'mutation { addNote(text: "a") }')["data"]
    second = graphql(server, 'mutation { addNote(text: "b") }')["data"]
    assert second == {"addNote": first["addNote"] + 1}  # type: ignore[index]


def test_graphql_subscription_over_graphql_transport_ws(server: ServerProcess) -> None:
    url = f"{server.ws_url}/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=TIMEOUT) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(TIMEOUT)) == {"type": "connection_ack"}
        subscribe = {"query": "subscription { count(upto: 3) }"}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        received = [json.loads(ws.recv(TIMEOUT)) for _ in range(4)]
    assert [m.get("payload") for m in received[:3]] == [{"data": {"count": n}} for n in (1, 2, 3)]
    assert received[3] == {"id": "1", "type": "complete"}


def test_socketio_client_joins_a_room_and_receives_an_emit(server: ServerProcess) -> None:
    client = socketio.Client(reconnection=False)
    news: list[str] = []
    arrived = threading.Event()

    @client.on("news")  # type: ignore[misc]
    def on_news(data: str) -> None:
        news.append(data)
        arrived.set()

    client.connect(server.url, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        assert client.call("join", "lobby", timeout=TIMEOUT) == "joined lobby"
        client.emit("shout", {"room": "lobby", "text": "hello"})
        assert arrived.wait(TIMEOUT)
    finally:
        client.disconnect()
    assert news == ["hello to lobby"]


def test_socketio_long_polling_transport(server: ServerProcess) -> None:
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=["polling"], wait_timeout=TIMEOUT)
    try:
        assert client.call("join", "poll-room", timeout=TIMEOUT) == "joined poll-room"
    finally:
        client.disconnect()


def test_starlette_app_with_its_own_middleware(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/starlette/where", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["x-starlette-middleware"] == "ran"
    assert response.json() == {
        "root_path": "/starlette",
        "path": "/starlette/where",
        "url_for": f"{server.url}/starlette/where",
    }


def test_another_velocipy_app(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/inner/where", timeout=TIMEOUT)
    assert response.json() == {"root_path": "/inner", "path": "/where"}
    assert httpx.get(f"{server.url}/inner/nowhere", timeout=TIMEOUT).status_code == 404
    assert httpx.get(f"{server.url}/", timeout=TIMEOUT).text == "outer"
