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
from playwright.sync_api import sync_playwright
from websockets.sync.client import connect

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    running,
    server_argv,
)

pytestmark = pytest.mark.interop

TIMEOUT = 10.0


@pytest.fixture(scope="module", params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(kind: str) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(kind, "tests.interop.apps.mounts_app:app", port)
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


def test_graphql_subscription_over_graphql_transport_ws(server: ServerProcess, kind: str) -> None:
    url = f"{server.ws_url}/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=TIMEOUT) as ws:
        # RSGI cannot echo the subprotocol: Python's client accepts that, and it is logged
        assert ws.subprotocol == (None if kind == "granian-rsgi" else "graphql-transport-ws")
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(TIMEOUT)) == {"type": "connection_ack"}
        subscribe = {"query": "subscription { count(upto: 3) }"}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        received = [json.loads(ws.recv(TIMEOUT)) for _ in range(4)]
    assert [m.get("payload") for m in received[:3]] == [{"data": {"count": n}} for n in (1, 2, 3)]
    assert received[3] == {"id": "1", "type": "complete"}
    warned = "RSGI cannot send Sec-WebSocket-Protocol" in server.output()
    assert warned == (kind == "granian-rsgi")


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


def test_bodies_stream_both_ways_through_the_mount(server: ServerProcess) -> None:
    """A 2 MiB upload sent in 64 KiB parts reaches the mounted app as a stream, and its answer
    streams back: on RSGI through the bridge (granian's body iterator, response_stream)."""
    parts = [bytes([n % 251]) * 65536 for n in range(32)]
    with httpx.stream(
        "POST", f"{server.url}/starlette/echo", content=iter(parts), timeout=TIMEOUT
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-starlette-middleware"] == "ran"
        assert "content-length" not in response.headers  # streamed, not collected
        sizes = [int(line) for line in response.iter_lines() if line]
    assert sum(sizes) == 32 * 65536
    assert len(sizes) > 1  # it arrived in parts


def test_another_velocipy_app(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/inner/where", timeout=TIMEOUT)
    assert response.json() == {"root_path": "/inner", "path": "/where"}
    assert httpx.get(f"{server.url}/inner/nowhere", timeout=TIMEOUT).status_code == 404
    assert httpx.get(f"{server.url}/", timeout=TIMEOUT).text == "outer"


SUBSCRIBE_FROM_THE_BROWSER = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url, ["graphql-transport-ws"]);
  const timer = setTimeout(() => resolve({opened: false, why: "timeout"}), 8000);
  socket.onopen = () => socket.send(JSON.stringify({type: "connection_init"}));
  socket.onmessage = (event) => { clearTimeout(timer); socket.close();
                                  resolve({opened: true, protocol: socket.protocol,
                                           first: event.data}); };
  socket.onerror = () => { clearTimeout(timer); resolve({opened: false, why: "error"}); };
})"""


@pytest.mark.browser
def test_a_browser_subscription_works_on_asgi_and_is_refused_by_the_browser_on_rsgi(
    server: ServerProcess, kind: str
) -> None:
    """The documented consequence of RSGI's missing Sec-WebSocket-Protocol, in Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/page", timeout=TIMEOUT * 1000)
            result = page.evaluate(SUBSCRIBE_FROM_THE_BROWSER, f"{server.ws_url}/graphql")
        finally:
            browser.close()
    if kind == "granian-rsgi":
        assert result == {"opened": False, "why": "error"}
    else:
        assert result == {
            "opened": True,
            "protocol": "graphql-transport-ws",
            "first": '{"type":"connection_ack"}',
        }
