"""WebSockets on real servers: uvicorn, granian RSGI and granian ASGI, driven by `websockets`.

Three apps are served: ``examples/websocket.py``, the docs page's snippets pasted unchanged
(``apps/page_snippets.py``) and a closing-rules app (``apps/closing_rules.py``). Each app is
started once per server kind for the whole module. Where the example and the snippets have the
same route, the same test runs against both.

RSGI cannot carry close codes or reasons (rsgi.md section 2): there the client sees 1005 and an
empty reason wherever ASGI servers deliver the exact code.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support import REPO_ROOT, ServerProcess, free_port, http_request, running, server_argv
from tests.support import wait_until as poll

pytestmark = pytest.mark.interop

APPS = {
    "example": "examples.websocket:app",
    "snippets": "tests.interop.apps.page_snippets:app",
    "rules": "tests.interop.apps.closing_rules:app",
}
# ws_max_message_size of each app: the example sets 64 KiB, the page keeps the 1 MiB default.
MESSAGE_LIMITS = {"example": 64 * 1024, "snippets": 1024 * 1024, "rules": 1024}
PAGE_APPS = ("example", "snippets")
TIMEOUT = 10.0

SUBPROTOCOL_WARNING = "RSGI cannot negotiate WebSocket subprotocols"
CLOSE_CODE_WARNING = "RSGI cannot send WebSocket close codes or reasons"

Live = Callable[[str, str], ServerProcess]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """``live(app, kind)``: that app served by that server, started on first use, once."""
    started: dict[tuple[str, str], ServerProcess] = {}
    with contextlib.ExitStack() as stack:

        def get(app: str, kind: str) -> ServerProcess:
            key = (app, kind)
            if key not in started:
                port = free_port()
                argv = server_argv(kind, APPS[app], port)
                started[key] = stack.enter_context(running(argv, port=port, cwd=REPO_ROOT))
            server = started[key]
            assert server.alive(), f"{kind} serving {app} died:\n{server.output()}"
            return server

        yield get


def is_rsgi(kind: str) -> bool:
    return kind == "granian-rsgi"


def code_seen(kind: str, code: int) -> int:
    """The close code a client receives: RSGI sends a close frame without one (1005)."""
    return 1005 if is_rsgi(kind) else code


def reason_seen(kind: str, reason: str) -> str:
    return "" if is_rsgi(kind) else reason


def open_ws(server: ServerProcess, path: str, **kwargs: Any) -> ClientConnection:
    return connect(  # type: ignore[no-any-return]
        server.ws_url + path, open_timeout=TIMEOUT, close_timeout=TIMEOUT, max_size=None, **kwargs
    )


def drain(ws: ClientConnection) -> list[str | bytes]:
    """Every message until the server closes (bounded: each recv waits at most TIMEOUT)."""
    messages: list[str | bytes] = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            messages.append(ws.recv(timeout=TIMEOUT))
    return messages


def assert_closed_by_server(
    ws: ClientConnection, kind: str, code: int, reason: str | None = None
) -> None:
    assert drain(ws) == []
    assert ws.close_code == code_seen(kind, code)
    if reason is not None:
        assert ws.close_reason == reason_seen(kind, reason)


def log_count(server: ServerProcess, text: str, at_least: int = 1) -> int:
    """How often ``text`` is in the server log, once it shows up at least ``at_least`` times."""
    poll(lambda: server.output().count(text) >= at_least, timeout=TIMEOUT)
    return server.output().count(text)


# --- the docs page's patterns: example and pasted snippets ------------------------------------


@pytest.mark.parametrize("app", PAGE_APPS)
def test_echo(live: Live, server_kind: str, app: str) -> None:
    with open_ws(live(app, server_kind), "/ws") as ws:
        for text in ("hello", "ünïcode ✓", ""):
            ws.send(text)
            assert ws.recv(timeout=TIMEOUT) == f"echo: {text}"


@pytest.mark.parametrize("app", PAGE_APPS)
def test_room_reads_path_param_and_header(live: Live, server_kind: str, app: str) -> None:
    server = live(app, server_kind)
    with open_ws(server, "/rooms/lobby", additional_headers={"X-Client-Name": "ada"}) as ws:
        assert ws.recv(timeout=TIMEOUT) == "joined room lobby as ada"
        ws.send("hi all")
        assert ws.recv(timeout=TIMEOUT) == "[lobby] hi all"
    with open_ws(server, "/rooms/42") as ws:
        assert ws.recv(timeout=TIMEOUT) == "joined room 42 as stranger"


@pytest.mark.parametrize("app", PAGE_APPS)
def test_json_game_acknowledges_moves(live: Live, server_kind: str, app: str) -> None:
    with open_ws(live(app, server_kind), "/game") as ws:
        for move in ({"x": 1, "y": 2}, {"x": -7, "y": 0}):
            ws.send(json.dumps(move))
            reply = json.loads(ws.recv(timeout=TIMEOUT))
            assert reply["ack"] == move
            assert isinstance(reply["tick"], int)


@pytest.mark.parametrize(("app", "path", "expect"), [
    ("example", "/bytes", lambda data: data[::-1]),
    ("rules", "/limits/bytes", lambda data: data),
])  # fmt: skip
def test_binary_frames(
    live: Live, server_kind: str, app: str, path: str, expect: Callable[[bytes], bytes]
) -> None:
    with open_ws(live(app, server_kind), path) as ws:
        for data in (b"\x00\x01\xfe\xff", bytes(range(256)), b""):
            ws.send(data)
            assert ws.recv(timeout=TIMEOUT) == expect(data)


@pytest.mark.parametrize("app", PAGE_APPS)
def test_subprotocol(live: Live, server_kind: str, app: str) -> None:
    """Negotiated on ASGI; on RSGI the message still arrives, with no subprotocol set.

    Two are offered: granian's ASGI scope does not split the header (granian issue #815).
    """
    offered = ["graphql-ws", "chat.v1"]
    with open_ws(live(app, server_kind), "/chat", subprotocols=offered) as ws:
        assert ws.subprotocol == (None if is_rsgi(server_kind) else "chat.v1")
        assert ws.recv(timeout=TIMEOUT) == "protocol accepted"


@pytest.mark.parametrize(("app", "path"), [
    ("example", "/chat"), ("snippets", "/chat"), ("rules", "/forget"),
])  # fmt: skip
def test_handler_returning_without_close_closes_with_1000(
    live: Live, server_kind: str, app: str, path: str
) -> None:
    with open_ws(live(app, server_kind), path) as ws:
        messages = drain(ws)
        assert len(messages) == 1
        assert ws.close_code == code_seen(server_kind, 1000)


@pytest.mark.parametrize("app", PAGE_APPS)
def test_guard_closes_with_code_and_reason(live: Live, server_kind: str, app: str) -> None:
    with open_ws(live(app, server_kind), "/guard") as ws:
        ws.send("status")
        assert ws.recv(timeout=TIMEOUT) == "ok: status"
        ws.send("quit")
        assert_closed_by_server(ws, server_kind, 1000, "client requested exit")


@pytest.mark.parametrize(("app", "path", "send", "code", "reason"), [
    ("rules", "/close-custom", None, 4000, "bye"),
    ("rules", "/raise-custom", None, 4001, "policy says no"),
    ("example", "/guard", "kick", 4000, "kicked by the guard"),
])  # fmt: skip
def test_custom_close_codes_reach_the_client(
    live: Live, server_kind: str, app: str, path: str, send: str | None, code: int, reason: str
) -> None:
    """ASGI servers deliver the exact code and reason; RSGI closes without them (1005)."""
    with open_ws(live(app, server_kind), path) as ws:
        if send is not None:
            ws.send(send)
        assert_closed_by_server(ws, server_kind, code, reason)


@pytest.mark.parametrize("app", PAGE_APPS)
def test_broadcast_reaches_every_other_client(live: Live, server_kind: str, app: str) -> None:
    server = live(app, server_kind)
    with open_ws(server, "/broadcast") as a, open_ws(server, "/broadcast") as b:
        with open_ws(server, "/broadcast") as c:
            # c connected last: once a and b see its message, all three are in the roster.
            c.send("from c")
            assert a.recv(timeout=TIMEOUT) == "from c"
            assert b.recv(timeout=TIMEOUT) == "from c"
            a.send("from a")
            assert b.recv(timeout=TIMEOUT) == "from a"
            assert c.recv(timeout=TIMEOUT) == "from a"
            b.send("from b")
            # a's next message is b's: nobody hears their own message back.
            assert a.recv(timeout=TIMEOUT) == "from b"
            assert c.recv(timeout=TIMEOUT) == "from b"
        a.send("after c left")
        assert b.recv(timeout=TIMEOUT) == "after c left"


# --- closing rules --------------------------------------------------------------------------


def test_crash_closes_with_1011_logs_once_and_keeps_serving(live: Live, server_kind: str) -> None:
    server = live("rules", server_kind)
    token = uuid.uuid4().hex
    with open_ws(server, f"/crash?token={token}") as ws:
        assert_closed_by_server(ws, server_kind, 1011, "Internal error")
    with open_ws(server, "/forget") as ws:  # the same worker still serves
        assert ws.recv(timeout=TIMEOUT) == "leaving without close()"
    assert http_request(server.url + "/health").text == "ok"
    marker = f"RuntimeError: crash marker {token}"
    assert log_count(server, marker) == 1, server.output()
    before_marker = server.output().split(marker)[0]
    assert "Traceback (most recent call last)" in before_marker.split("Unhandled error")[-1]
    assert server.alive()


@pytest.mark.parametrize(("app", "path", "headers"), [
    ("example", "/nowhere", None),
    ("snippets", "/nowhere", None),
    ("rules", "/nowhere", None),
    ("rules", "/reject", None),
    ("rules", "/reject", {"x-token": "wrong"}),
    ("rules", "/crash-before-accept", None),
])  # fmt: skip
def test_handshake_refused_with_403(
    live: Live, server_kind: str, app: str, path: str, headers: dict[str, str] | None
) -> None:
    server = live(app, server_kind)
    with pytest.raises(InvalidStatus) as refused:
        open_ws(server, path, additional_headers=headers)
    assert refused.value.response.status_code == 403
    assert server.alive()


def test_guarded_route_accepts_with_the_right_header(live: Live, server_kind: str) -> None:
    server = live("rules", server_kind)
    with open_ws(server, "/reject", additional_headers={"x-token": "let-me-in"}) as ws:
        assert ws.recv(timeout=TIMEOUT) == "welcome"


@pytest.mark.parametrize(("app", "path", "payload"), [
    ("example", "/ws", b"binary where text is read"),
    ("snippets", "/ws", b"binary where text is read"),
    ("snippets", "/game", b'{"x": 1, "y": 2}'),
    ("rules", "/limits/text", b"[]"),
    ("example", "/bytes", "text where binary is read"),
    ("rules", "/limits/bytes", "text where binary is read"),
])  # fmt: skip
def test_wrong_frame_kind_closes_with_1003(
    live: Live, server_kind: str, app: str, path: str, payload: str | bytes
) -> None:
    with open_ws(live(app, server_kind), path) as ws:
        ws.send(payload)
        assert_closed_by_server(ws, server_kind, 1003)


HOSTILE_JSON = [
    "{",
    "not json",
    "NaN",
    "[1, 2,]",
    "1e99999",
    '"\\ud800"',
    "123456789012345678901234567890",
    "[" * 20_000,
]


@pytest.mark.parametrize("app", PAGE_APPS)
def test_invalid_json_closes_with_1007_on_the_game(live: Live, server_kind: str, app: str) -> None:
    server = live(app, server_kind)
    for text in HOSTILE_JSON:
        with open_ws(server, "/game") as ws:
            ws.send(text)
            assert_closed_by_server(ws, server_kind, 1007)
    with open_ws(server, "/game") as ws:  # and the route still works
        ws.send('{"x": 3, "y": 4}')
        assert json.loads(ws.recv(timeout=TIMEOUT))["ack"] == {"x": 3, "y": 4}


def test_example_game_refuses_a_malformed_move_with_1007(live: Live, server_kind: str) -> None:
    with open_ws(live("example", server_kind), "/game") as ws:
        ws.send('{"x": "left", "y": 2}')  # valid JSON, not a Move
        assert_closed_by_server(ws, server_kind, 1007)
        if not is_rsgi(server_kind):
            assert "Expected `int`" in ws.close_reason


def test_invalid_json_closes_with_1007(live: Live, server_kind: str) -> None:
    server = live("rules", server_kind)
    for text in ("{", "NaN", '{"a": }'):
        with open_ws(server, "/limits/text") as ws:
            ws.send(text)
            assert_closed_by_server(ws, server_kind, 1007)


@pytest.mark.parametrize(("app", "path", "kind"), [
    ("example", "/ws", str),
    ("snippets", "/ws", str),
    ("example", "/bytes", bytes),
    ("rules", "/limits/text", str),
    ("rules", "/limits/bytes", bytes),
])  # fmt: skip
def test_message_over_the_app_limit_closes_with_1009(
    live: Live, server_kind: str, app: str, path: str, kind: type
) -> None:
    limit = MESSAGE_LIMITS[app]
    with open_ws(live(app, server_kind), path) as ws:
        ws.send("1" * (limit + 1) if kind is str else b"\x01" * (limit + 1))
        assert_closed_by_server(ws, server_kind, 1009)


def test_fragmented_message_over_the_limit_closes_with_1009(live: Live, server_kind: str) -> None:
    fragment = b"\x03" * (MESSAGE_LIMITS["rules"] // 2 + 1)
    with open_ws(live("rules", server_kind), "/limits/bytes") as ws:
        ws.send([fragment, fragment])  # one message in two frames
        assert_closed_by_server(ws, server_kind, 1009)


def test_message_at_the_limit_passes(live: Live, server_kind: str) -> None:
    limit = MESSAGE_LIMITS["rules"]
    with open_ws(live("rules", server_kind), "/limits/bytes") as ws:
        ws.send(b"\x02" * limit)
        assert ws.recv(timeout=TIMEOUT) == b"\x02" * limit
    with open_ws(live("rules", server_kind), "/limits/text") as ws:
        ws.send("7" * limit)  # a JSON number of exactly `limit` characters would not fit 64 bits
        assert_closed_by_server(ws, server_kind, 1007)  # ...so it is refused as JSON, not as size


# --- nothing lost -------------------------------------------------------------------------------

MESSAGES = 1000


def sink_record(server: ServerProcess, session: str) -> dict[str, Any]:
    """What the closing-rules app's /sink handler recorded for ``session``."""
    record: dict[str, Any] = json.loads(http_request(f"{server.url}/sink/{session}").body)
    return record


def test_every_client_message_reaches_the_handler_before_the_close(
    live: Live, server_kind: str
) -> None:
    server = live("rules", server_kind)
    session = uuid.uuid4().hex
    with open_ws(server, f"/sink/{session}") as ws:
        for number in range(MESSAGES):
            ws.send(str(number))
        ws.close(1000)

    def report() -> dict[str, Any]:
        return sink_record(server, session)

    assert poll(lambda: report()["disconnect_code"] is not None, timeout=TIMEOUT), report()
    received = report()
    assert received["messages"] == [str(number) for number in range(MESSAGES)]
    assert received["disconnect_code"] == code_seen(server_kind, 1000)


RESET_CODE = {"uvicorn": 1005, "granian-asgi": 1005, "granian-rsgi": 1006}


def test_client_vanishing_ends_the_handler_without_an_error(live: Live, server_kind: str) -> None:
    """A TCP reset (no close frame): the handler's receive raises WebSocketDisconnect.

    Its code is what the server reports, one per server: uvicorn 0.54 and granian 2.8.7's ASGI
    report 1005 for a reset (RFC 6455 would call it 1006), granian's RSGI 1006 (its receive ends
    without a close frame, which VelociPy reports as the connection lost).
    """
    server = live("rules", server_kind)
    session = uuid.uuid4().hex
    log_before = len(server.output())
    with open_ws(server, f"/sink/{session}") as ws:
        ws.send("before the reset")
        assert poll(lambda: sink_record(server, session)["messages"], TIMEOUT)
        ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.socket.close()  # linger 0: the kernel sends RST

    def report() -> dict[str, Any]:
        return sink_record(server, session)

    assert poll(lambda: report()["disconnect_code"] is not None, timeout=TIMEOUT), report()
    assert report()["messages"] == ["before the reset"]
    assert report()["disconnect_code"] == RESET_CODE[server_kind], report()
    new_log = server.output()[log_before:]
    assert "Unhandled error" not in new_log
    assert "Traceback" not in new_log


def test_every_app_message_reaches_the_client_before_the_close(
    live: Live, server_kind: str
) -> None:
    with open_ws(live("rules", server_kind), f"/flood/{MESSAGES}") as ws:
        assert drain(ws) == [str(number) for number in range(MESSAGES)]
        assert ws.close_code == code_seen(server_kind, 1000)


# --- the closing handshake, on the wire --------------------------------------------------------


def read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked server frame in ``data`` (small frames only)."""
    frames = []
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        assert length < 126, "only small frames are expected here"
        frames.append((opcode, data[2 : 2 + length]))
        data = data[2 + length :]
    return frames


def client_closes_over_a_raw_socket(server: ServerProcess, path: str) -> list[tuple[int, bytes]]:
    """Handshake, send a masked close frame (1000), then read until the server ends the TCP
    connection. Every read is bounded: a server that never finishes fails with a timeout."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed during the handshake: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        mask = os.urandom(4)
        payload = struct.pack("!H", 1000)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        sock.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + masked)
        while chunk := sock.recv(4096):  # until EOF: the server closed the connection
            rest += chunk
    return read_frames(rest)


@pytest.mark.parametrize(("app", "path"), [
    ("example", "/ws"),
    ("snippets", "/ws"),
    ("snippets", "/broadcast"),
    ("rules", "/sink/raw-socket"),
])  # fmt: skip
def test_client_close_is_answered_and_the_connection_ends(
    live: Live, server_kind: str, app: str, path: str
) -> None:
    """The server echoes the client's close frame and then closes TCP (RFC 6455 7.1.1).

    On granian RSGI that needs the framework to drop the transport once the client left,
    even when the app still holds the WebSocket object (the broadcast set).
    """
    frames = client_closes_over_a_raw_socket(live(app, server_kind), path)
    assert frames, "no close frame before the end of the connection"
    opcode, payload = frames[-1]
    assert opcode == 0x8
    assert payload[:2] == struct.pack("!H", 1000), payload  # the 1000 echoed on every server


# --- what RSGI cannot do is said once per process ---------------------------------------------


def test_rsgi_limitations_are_logged_once_per_process(live: Live, server_kind: str) -> None:
    server = live("snippets", server_kind)
    for _ in range(2):
        with open_ws(server, "/chat", subprotocols=["chat.v1"]) as ws:
            assert ws.recv(timeout=TIMEOUT) == "protocol accepted"
        with open_ws(server, "/guard") as ws:
            ws.send("quit")
            assert_closed_by_server(ws, server_kind, 1000, "client requested exit")
    if is_rsgi(server_kind):
        assert log_count(server, SUBPROTOCOL_WARNING) == 1, server.output()
        assert log_count(server, CLOSE_CODE_WARNING) == 1, server.output()
        assert "Serve the app over ASGI" in server.output()
    else:
        assert SUBPROTOCOL_WARNING not in server.output()
        assert CLOSE_CODE_WARNING not in server.output()
