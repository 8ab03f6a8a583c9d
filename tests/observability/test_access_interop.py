"""Access lines and request ids on real uvicorn, granian RSGI and granian ASGI processes.

The same requests go to each server; the JSON lines the app writes must be the same apart from
the client's port and the duration, refused handshakes included (granian's own log calls an
RSGI refusal 101: ours says 403).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support import (
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    running,
    server_argv,
    wait_until,
)

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.observed_app:app"
VARYING = ("client", "duration_ms")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        started = {}
        for kind in SERVERS:
            port = free_port()
            argv = server_argv(kind, TARGET, port)
            started[kind] = stack.enter_context(running(argv, port=port, cwd=REPO_ROOT))
        yield started
        for process in started.values():
            assert "Traceback" not in process.output(), process.output()


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, servers: dict[str, ServerProcess]) -> ServerProcess:
    return servers[request.param]


def access_lines(server: ServerProcess) -> list[dict[str, Any]]:
    output = server.output()
    complete = output[: output.rfind("\n") + 1]  # a line still being written is not one yet
    return [json.loads(line) for line in complete.splitlines() if line.startswith('{"type":')]


def drive(server: ServerProcess) -> list[dict[str, Any]]:
    """The same requests on every server; the access lines they wrote, in order."""
    before = len(access_lines(server))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/items/7", headers={"x-request-id": "req-7"}).status_code == 200
        assert client.get("/items/nope", headers={"x-request-id": "req-422"}).status_code == 422
        assert client.get("/missing", headers={"x-request-id": "req-404"}).status_code == 404
        assert (
            client.post("/echo", json={"a": 1}, headers={"x-request-id": "req-post"}).text
            == '{"a":1}'
        )
        assert client.head("/items/8", headers={"x-request-id": "req-head"}).status_code == 200
        assert len(client.get("/stream", headers={"x-request-id": "req-stream"}).content) == 3000
    with connect(f"{server.ws_url}/ws/blue", additional_headers={"x-request-id": "ws-blue"}) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "blue:hi"
    for path in ("/private", "/nowhere"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{server.ws_url}{path}", additional_headers={"x-request-id": f"ws-{path[1:]}"})
        assert refused.value.response.status_code == 403
    assert wait_until(lambda: len(access_lines(server)) >= before + 9, timeout=10), server.output()
    return access_lines(server)[before:]


def test_access_lines_are_the_same_on_every_server(servers: dict[str, ServerProcess]) -> None:
    shapes = []
    for server in servers.values():
        lines = drive(server)
        check_lines(lines)
        shapes.append(
            sorted(
                json.dumps({k: v for k, v in line.items() if k not in VARYING}, sort_keys=True)
                for line in lines
            )
        )
    assert shapes[0] == shapes[1] == shapes[2]


def check_lines(lines: list[dict[str, Any]]) -> None:
    by_id = {line["request_id"]: line for line in lines}
    assert sorted(by_id) == sorted(
        [
            "req-7",
            "req-422",
            "req-404",
            "req-post",
            "req-head",
            "req-stream",
            "ws-blue",
            "ws-private",
            "ws-nowhere",
        ]
    )
    item = by_id["req-7"]
    assert item["method"] == "GET"
    assert item["path"] == "/items/7"
    assert item["route"] == "/items/{item_id}"
    assert item["status"] == 200
    assert item["bytes"] == len(b'{"item_id":7,"request_id":"req-7"}')
    assert item["client"].startswith("127.0.0.1:")
    assert item["duration_ms"] >= 0
    assert by_id["req-422"]["route"] == "/items/{item_id}"
    assert by_id["req-422"]["status"] == 422
    assert by_id["req-404"]["route"] is None
    assert by_id["req-404"]["status"] == 404
    assert by_id["req-head"]["bytes"] == 0
    assert by_id["req-head"]["method"] == "HEAD"
    assert by_id["req-stream"]["bytes"] == 3000  # counted as the stream was sent
    blue = by_id["ws-blue"]
    assert (blue["method"], blue["route"], blue["status"], blue["close_code"]) == (
        "WS",
        "/ws/{room}",
        101,
        1000,
    )
    assert (blue["messages_in"], blue["bytes_in"], blue["messages_out"], blue["bytes_out"]) == (
        1,
        2,
        1,
        7,
    )
    for refused in ("ws-private", "ws-nowhere"):
        assert by_id[refused]["status"] == 403
        assert by_id[refused]["close_code"] is None
    assert by_id["ws-private"]["route"] == "/private"
    assert by_id["ws-nowhere"]["route"] is None


def test_request_id_reaches_handler_response_and_log_lines(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        given = client.get("/items/3", headers={"x-request-id": "abc-123"})
        made = client.get("/items/4")
        hostile = client.get("/items/5", headers={"x-request-id": "x" * 201})
    assert given.headers["x-request-id"] == "abc-123" == given.json()["request_id"]
    new_id = made.headers["x-request-id"]
    assert len(new_id) == 32
    assert made.json()["request_id"] == new_id
    assert hostile.headers["x-request-id"] != "x" * 201
    assert len(hostile.headers["x-request-id"]) == 32
    assert wait_until(lambda: f"handler-line id={new_id} reading item 4" in server.output())
    assert "handler-line id=abc-123 reading item 3" in server.output()
    with connect(f"{server.ws_url}/ws/red", additional_headers={"x-request-id": "ws-red"}) as ws:
        ws.send("yo")
        ws.recv(timeout=5)
    assert wait_until(lambda: "handler-line id=ws-red room red got yo" in server.output())


def test_a_client_leaving_a_stream_still_gets_its_line(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        with client.stream("GET", "/endless", headers={"x-request-id": "req-leave"}) as response:
            assert len(next(response.iter_bytes())) > 0
    # the server notices the departure, closes the body, and the line says what was sent
    assert wait_until(
        lambda: any(line["request_id"] == "req-leave" for line in access_lines(server)),
        timeout=10,
    ), server.output()
    (line,) = [line for line in access_lines(server) if line["request_id"] == "req-leave"]
    assert line["status"] == 200
    assert line["route"] == "/endless"
    assert line["bytes"] >= 1000
