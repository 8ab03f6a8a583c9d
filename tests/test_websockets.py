"""WebSockets in process: the same test bodies run on ASGI and RSGI (the ``protocol`` fixture).

Handlers record what happened inside them (errors, received values) in lists the test reads
after the session ends; closing a test session waits for the handler to return, so those lists
are complete by then. RSGI cannot carry close codes or reasons: there the client sees 1005 and
the app sees 1005 for a client's close.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

import velocipy.rsgi.websocket as rsgi_websocket
from velocipy import HTTPException, VelociPy, WebSocket
from velocipy.exceptions import WebSocketDisconnect, WebSocketException, WebSocketStateError
from velocipy.json import MsgspecAdapter
from velocipy.testing import TestClient, WebSocketClosed, WebSocketDenied

ClientFactory = Callable[..., TestClient]


def seen(protocol: str, code: int, reason: str = "") -> tuple[int, str]:
    """The (code, reason) a peer sees: RSGI has no close codes or reasons on the wire."""
    return (code, reason) if protocol == "asgi" else (1005, "")


def error_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "velocipy" and r.levelno >= logging.ERROR]


def drain_until_closed(session: Any) -> list[Any]:
    """Every message until the app's close (each receive waits at most the client timeout)."""
    messages = []
    while True:
        try:
            messages.append(session.receive())
        except WebSocketClosed:
            return messages


# --- every method ---------------------------------------------------------------------------


def test_every_method_round_trips(make_client: ClientFactory, protocol: str) -> None:
    app = VelociPy()
    states: list[tuple[bool, bool]] = []

    @app.websocket("/all")
    async def everything(ws: WebSocket) -> None:
        states.append((ws.accepted, ws.closed))
        await ws.accept()
        states.append((ws.accepted, ws.closed))
        await ws.send_text("text: " + await ws.receive_text())
        await ws.send_bytes((await ws.receive_bytes())[::-1])
        await ws.send_json({"got": await ws.receive_json()})
        await ws.send_bytes(bytearray(b"from a bytearray"))
        await ws.close(1000, "done")
        states.append((ws.accepted, ws.closed))

    with make_client(app).websocket_connect("/all") as session:
        session.send_text("héllo")
        assert session.receive_text() == "text: héllo"
        session.send_bytes(b"\x00\x01\x02")
        assert session.receive_bytes() == b"\x02\x01\x00"
        session.send_json({"move": [1, 2], "ok": True, "none": None})
        assert session.receive_json() == {"got": {"move": [1, 2], "ok": True, "none": None}}
        assert session.receive_bytes() == b"from a bytearray"
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 1000, "done")
    assert states == [(False, False), (True, False), (True, True)]


def test_json_goes_through_the_apps_adapter(make_client: ClientFactory) -> None:
    class Recording:
        """An adapter object of our own that notes every call."""

        name = "recording"

        def __init__(self) -> None:
            self.inner = MsgspecAdapter()
            self.calls: list[str] = []

        def encode(self, obj: Any) -> bytes:
            self.calls.append("encode")
            return self.inner.encode(obj)

        def decode(self, data: bytes | str) -> Any:
            self.calls.append("decode")
            return self.inner.decode(data)

    adapter = Recording()
    app = VelociPy(json_adapter=adapter)

    @app.websocket("/json")
    async def echo_json(ws: WebSocket) -> None:
        await ws.accept()
        async for data in ws.iter_json():
            await ws.send_json(data)

    with make_client(app).websocket_connect("/json") as session:
        session.send_json([1, "two", {"three": 3.5}])
        assert session.receive_json() == [1, "two", {"three": 3.5}]
    assert adapter.calls == ["decode", "encode"]


@pytest.mark.parametrize("backend", ["msgspec", "orjson", "stdlib"])
def test_json_backends_agree(make_client: ClientFactory, backend: str) -> None:
    app = VelociPy(json_adapter=backend)

    class Point(msgspec.Struct):
        x: int
        y: int

    @app.websocket("/json")
    async def echo_json(ws: WebSocket) -> None:
        await ws.accept()
        data = await ws.receive_json()
        await ws.send_json({"echo": data, "point": Point(1, 2), "text": "é✓"})

    with make_client(app).websocket_connect("/json") as session:
        session.send_text('{"a": [1, 2.5, null, true, "x"]}')
        assert session.receive_json() == {
            "echo": {"a": [1, 2.5, None, True, "x"]},
            "point": {"x": 1, "y": 2},
            "text": "é✓",
        }


def test_headers_answer_case_insensitively(make_client: ClientFactory) -> None:
    app = VelociPy()

    @app.websocket("/headers")
    async def read_headers(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json(
            {
                "lower": ws.headers["x-client-name"],
                "upper": ws.headers["X-CLIENT-NAME"],
                "get": ws.headers.get("X-Client-Name"),
                "header": ws.header("x-CLIENT-name"),
                "contains": "X-Client-Name" in ws.headers,
                "default": ws.header("x-missing", default="stranger"),
                "missing": ws.header("x-missing"),
                "repeated": ws.headers.get_list("X-Tag"),
            }
        )

    headers = [("X-Client-Name", "ada"), ("x-tag", "a"), ("X-TAG", "b")]
    with make_client(app).websocket_connect("/headers", headers=headers) as session:
        assert session.receive_json() == {
            "lower": "ada",
            "upper": "ada",
            "get": "ada",
            "header": "ada",
            "contains": True,
            "default": "stranger",
            "missing": None,
            "repeated": ["a", "b"],
        }


def test_path_params_use_the_http_converters(make_client: ClientFactory) -> None:
    app = VelociPy()

    @app.websocket("/items/{item_id:int}/{price:float}/{rest:path}")
    async def item(ws: WebSocket) -> None:
        await ws.accept()
        params = ws.path_params
        await ws.send_text(repr((params["item_id"], params["price"], params["rest"])))

    @app.websocket("/rooms/{room_id}")
    async def room(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(repr(ws.path_params))

    client = make_client(app)
    with client.websocket_connect("/items/42/9.5/a/b/c.txt") as session:
        assert session.receive_text() == repr((42, 9.5, "a/b/c.txt"))
    with client.websocket_connect("/rooms/lobby") as session:
        assert session.receive_text() == repr({"room_id": "lobby"})
    with pytest.raises(WebSocketDenied) as refused:  # "abc" is no int: refused like a 404
        client.websocket_connect("/items/abc/1.0/x")
    assert refused.value.status_code == 403


def test_query_string_is_raw(make_client: ClientFactory) -> None:
    app = VelociPy()

    @app.websocket("/q")
    async def query(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"raw": ws.query_string, "a": ws.query_params.get_list("a")})

    client = make_client(app)
    with client.websocket_connect("/q?a=1&b=two%20words&a=2") as session:
        assert session.receive_json() == {"raw": "a=1&b=two%20words&a=2", "a": ["1", "2"]}
    with client.websocket_connect("/q") as session:
        assert session.receive_json() == {"raw": "", "a": []}


# --- subprotocols -----------------------------------------------------------------------------


def test_subprotocol_negotiated_on_asgi_and_warned_once_on_rsgi(
    make_client: ClientFactory,
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(rsgi_websocket, "_warned", set())  # a fresh "process"
    app = VelociPy()
    chosen: list[str | None] = []

    @app.websocket("/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat.v1")
        chosen.append(ws.subprotocol)
        await ws.send_text("protocol accepted")

    client = make_client(app)
    for _ in range(3):
        with client.websocket_connect("/chat", subprotocols=["other", "chat.v1"]) as session:
            assert session.receive_text() == "protocol accepted"
            assert session.subprotocol == ("chat.v1" if protocol == "asgi" else None)
    assert chosen == ["chat.v1" if protocol == "asgi" else None] * 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    subprotocol_warnings = [w for w in warnings if "subprotocol" in w]
    if protocol == "rsgi":
        assert len(subprotocol_warnings) == 1
        assert "ASGI" in subprotocol_warnings[0]
    else:
        assert subprotocol_warnings == []


def test_subprotocol_not_offered_is_not_sent(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()

    @app.websocket("/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat.v1")
        await ws.send_text(repr(ws.subprotocol))

    with make_client(app).websocket_connect("/chat") as session:
        assert session.receive_text() == "None"
        assert session.subprotocol is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_rsgi_close_code_warning_is_logged_once(
    make_client: ClientFactory,
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(rsgi_websocket, "_warned", set())
    app = VelociPy()

    @app.websocket("/bye")
    async def bye(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(4000, "bye")

    client = make_client(app)
    for _ in range(3):
        with client.websocket_connect("/bye") as session:
            drain_until_closed(session)
            assert (session.close_code, session.close_reason) == seen(protocol, 4000, "bye")
    warnings = [r.getMessage() for r in caplog.records if "close codes" in r.getMessage()]
    assert len(warnings) == (1 if protocol == "rsgi" else 0)


# --- closing rules ------------------------------------------------------------------------------


def test_returning_without_close_closes_with_1000(
    make_client: ClientFactory, protocol: str
) -> None:
    app = VelociPy()

    @app.websocket("/forget")
    async def forget(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("bye")

    with make_client(app).websocket_connect("/forget") as session:
        assert drain_until_closed(session) == ["bye"]
        assert session.close_code == seen(protocol, 1000)[0]


def test_unhandled_exception_closes_with_1011_and_logs_the_traceback_once(
    make_client: ClientFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()

    @app.websocket("/crash")
    async def crash(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise RuntimeError("boom")

    with make_client(app).websocket_connect("/crash") as session:
        session.send_text("go")
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 1011, "Internal error")
    errors = error_logs(caplog)
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


def test_debug_mode_re_raises_the_exception(make_client: ClientFactory) -> None:
    app = VelociPy(debug=True)

    @app.websocket("/crash")
    async def crash(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise RuntimeError("boom in debug")

    with pytest.raises(RuntimeError, match="boom in debug"):  # noqa: PT012
        with make_client(app).websocket_connect("/crash") as session:
            session.send_text("go")
            with pytest.raises(WebSocketClosed):
                session.receive()


def test_websocket_exception_closes_with_its_code_and_reason(
    make_client: ClientFactory, protocol: str
) -> None:
    app = VelociPy()

    @app.websocket("/policy/{code:int}")
    async def policy(ws: WebSocket) -> None:
        await ws.accept()
        raise WebSocketException(ws.path_params["code"], "policy says no")

    client = make_client(app)
    with client.websocket_connect("/policy/4001") as session:
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 4001, "policy says no")
    # A code no peer may send (1006 is reserved) falls back to 1008, keeping the reason.
    with client.websocket_connect("/policy/1006") as session:
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 1008, "policy says no")


def test_websocket_exception_with_an_over_long_reason_is_cut_to_123_bytes(
    make_client: ClientFactory, protocol: str
) -> None:
    app = VelociPy()

    @app.websocket("/long")
    async def long_reason(ws: WebSocket) -> None:
        await ws.accept()
        raise WebSocketException(4002, "é" * 100)  # 200 bytes of UTF-8; a close frame holds 123

    with make_client(app).websocket_connect("/long") as session:
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 4002, "é" * 61)


@pytest.mark.parametrize(
    ("route", "logged"),
    [
        ("/return", False),
        ("/close", False),
        ("/close-with-code", False),
        ("/raise", True),
        ("/http-exception", False),
        ("/ws-exception", False),
        ("/missing", False),
    ],
)
def test_refused_before_accept_with_403(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, route: str, logged: bool
) -> None:
    """Never a close code passed as an HTTP status: on RSGI that would kill the worker."""
    app = VelociPy()

    @app.websocket("/return")
    async def returns(ws: WebSocket) -> None:
        return None

    @app.websocket("/close")
    async def close(ws: WebSocket) -> None:
        await ws.close()

    @app.websocket("/close-with-code")
    async def close_with_code(ws: WebSocket) -> None:
        await ws.close(4000, "not you")
        await ws.close(1000)  # closing twice is a no-op

    @app.websocket("/raise")
    async def raises(ws: WebSocket) -> None:
        raise RuntimeError("before accept")

    @app.websocket("/http-exception")
    async def http_exception(ws: WebSocket) -> None:
        raise HTTPException(401, "who are you?")

    @app.websocket("/ws-exception")
    async def ws_exception(ws: WebSocket) -> None:
        raise WebSocketException(1008, "go away")

    with pytest.raises(WebSocketDenied) as refused:
        make_client(app).websocket_connect(route)
    assert refused.value.status_code == 403
    assert bool(error_logs(caplog)) is logged


@pytest.mark.parametrize(
    ("route", "payload"),
    [("/text", b"binary"), ("/bytes", "text"), ("/json", b"{}")],
)
def test_wrong_frame_kind_closes_with_1003(
    make_client: ClientFactory, protocol: str, route: str, payload: str | bytes
) -> None:
    app = VelociPy()
    ended: list[int] = []

    async def run(ws: WebSocket, receive: Callable[[], Any]) -> None:
        await ws.accept()
        try:
            await receive()
        except WebSocketDisconnect as exc:
            ended.append(exc.code)
            raise

    @app.websocket("/text")
    async def text(ws: WebSocket) -> None:
        await run(ws, ws.receive_text)

    @app.websocket("/bytes")
    async def binary(ws: WebSocket) -> None:
        await run(ws, ws.receive_bytes)

    @app.websocket("/json")
    async def json_(ws: WebSocket) -> None:
        await run(ws, ws.receive_json)

    with make_client(app).websocket_connect(route) as session:
        if isinstance(payload, bytes):
            session.send_bytes(payload)
        else:
            session.send_text(payload)
        drain_until_closed(session)
        assert session.close_code == seen(protocol, 1003)[0]
    assert ended == [1003]  # the handler's loop ends with the code it was closed with


HOSTILE_JSON = [
    "",
    "{",
    "nope",
    "NaN",
    "-Infinity",
    "[1,]",
    "1e99999",
    '"\\ud800"',
    "123456789012345678901234567890",
    "[" * 100_000,
    '{"a": 1}{"b": 2}',
]


@pytest.mark.parametrize("backend", ["msgspec", "orjson", "stdlib"])
def test_invalid_json_closes_with_1007_never_1011(
    make_client: ClientFactory, protocol: str, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    app = VelociPy(json_adapter=backend)
    ended: list[int] = []

    @app.websocket("/json")
    async def json_(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_json()
        except WebSocketDisconnect as exc:
            ended.append(exc.code)

    client = make_client(app)
    for text in HOSTILE_JSON:
        with client.websocket_connect("/json") as session:
            session.send_text(text)
            drain_until_closed(session)
            assert session.close_code == seen(protocol, 1007)[0], text[:40]
    assert ended == [1007] * len(HOSTILE_JSON)
    assert error_logs(caplog) == []


def test_message_over_the_limit_closes_with_1009(make_client: ClientFactory, protocol: str) -> None:
    app = VelociPy(ws_max_message_size=10)
    assert VelociPy().ws_max_message_size == 1024 * 1024  # the default
    ended: list[int] = []

    @app.websocket("/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.send(await ws.receive())
        except WebSocketDisconnect as exc:
            ended.append(exc.code)

    client = make_client(app)
    with client.websocket_connect("/echo") as session:
        session.send_text("x" * 10)  # at the limit: fine
        assert session.receive_text() == "x" * 10
        session.send_bytes(b"\x00" * 10)
        assert session.receive_bytes() == b"\x00" * 10
        session.send_text("é" * 5)  # 10 bytes of UTF-8
        assert session.receive_text() == "é" * 5
        session.send_bytes(b"\x00" * 9)  # below the limit
        assert session.receive_bytes() == b"\x00" * 9
        for fine in ("x" * 9, "\U0001f600\U0001f600x", "\U0001f600\U0001f600xx"):  # 9, 9, 10 bytes
            session.send_text(fine)
            assert session.receive_text() == fine
    # the last: 3 characters but 12 bytes (a short text is only measured past limit // 4 chars)
    too_big_messages = ("x" * 11, b"\x00" * 11, "é" * 6, "\U0001f600" * 3)
    for too_big in too_big_messages:  # the limit counts bytes, not characters
        with client.websocket_connect("/echo") as session:
            if isinstance(too_big, bytes):
                session.send_bytes(too_big)
            else:
                session.send_text(too_big)
            drain_until_closed(session)
            assert session.close_code == seen(protocol, 1009)[0]
    assert ended[1:] == [1009] * len(too_big_messages)


# --- misuse ---------------------------------------------------------------------------------------


def test_misuse_raises_precise_errors(make_client: ClientFactory, protocol: str) -> None:
    """Each misuse is refused by the state machine; on RSGI none reaches granian (no crash)."""
    app = VelociPy()
    errors: dict[str, str] = {}

    async def expect(name: str, error: type[Exception], call: Any) -> None:
        with pytest.raises(error) as caught:
            await call
        errors[name] = str(caught.value)

    @app.websocket("/misuse")
    async def misuse(ws: WebSocket) -> None:
        await expect("send before accept", WebSocketStateError, ws.send_text("x"))
        await expect("receive before accept", WebSocketStateError, ws.receive_text())
        await ws.accept()
        await expect("accept twice", WebSocketStateError, ws.accept())
        await expect("send_text(bytes)", TypeError, ws.send_text(b"x"))  # type: ignore[arg-type]
        await expect("send_bytes(str)", TypeError, ws.send_bytes("x"))  # type: ignore[arg-type]
        await expect("send_json(not JSON)", TypeError, ws.send_json(object()))
        await expect("unsendable code", ValueError, ws.close(1005))
        await expect("reason too long", ValueError, ws.close(1000, "x" * 124))
        first = asyncio.ensure_future(ws.receive_text())
        await asyncio.sleep(0)  # `first` is now waiting in receive()
        await expect("concurrent receive", WebSocketStateError, ws.receive_text())
        await ws.send_text("ready")
        assert await first == "one"
        await ws.close(1000, "done")
        await ws.close(1000, "done")  # closing twice: a no-op
        await ws.close(4000)
        await expect("receive after close", WebSocketStateError, ws.receive_text())
        await expect("send after close", WebSocketStateError, ws.send_text("x"))
        await expect("accept after close", WebSocketStateError, ws.accept())

    with make_client(app).websocket_connect("/misuse") as session:
        assert session.receive_text() == "ready"
        session.send_text("one")
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(protocol, 1000, "done")
    assert list(errors) == [
        "send before accept",
        "receive before accept",
        "accept twice",
        "send_text(bytes)",
        "send_bytes(str)",
        "send_json(not JSON)",
        "unsendable code",
        "reason too long",
        "concurrent receive",
        "receive after close",
        "send after close",
        "accept after close",
    ]
    assert "accept()" in errors["send before accept"]
    assert "already" in errors["accept twice"]
    # The senders check their argument before any coroutine runs, yet raise where awaited.
    assert errors["send_text(bytes)"] == "send_text() takes str, not bytes"
    assert "object" in errors["send_json(not JSON)"]
    assert "closed" in errors["receive after close"]


def test_client_leaving_raises_websocket_disconnect_with_its_code(
    make_client: ClientFactory, protocol: str
) -> None:
    app = VelociPy()
    outcome: list[Any] = []

    @app.websocket("/leave")
    async def leave(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            outcome.append((exc.code, exc.reason))
        # Once the client is gone, every call says so, and close() stays a no-op.
        for call in (ws.receive_text(), ws.send_text("late")):
            with pytest.raises(WebSocketDisconnect):
                await call
        await ws.close()
        outcome.append(ws.closed)

    with make_client(app).websocket_connect("/leave") as session:
        session.close(4001, "client bye")
    assert outcome == [seen(protocol, 4001, "client bye"), True]


def test_send_to_a_client_that_left_raises_websocket_disconnect(
    make_client: ClientFactory,
) -> None:
    app = VelociPy()
    outcome: list[Any] = []

    @app.websocket("/talk")
    async def talk(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        try:
            for _ in range(10_000):  # the client's close arrives while we keep talking
                await ws.send_text("still here?")
                await asyncio.sleep(0)
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
        await ws.close()  # the page's cleanup pattern never raises

    client = make_client(app)
    with client.websocket_connect("/talk") as session:
        session.send_text("go")
        session.close()
    if client.interface == "rsgi":
        # The handler was sending, not receiving: it never read the client's close frame, so
        # the failed send reports the connection lost (1006).
        assert outcome == [1006]
    else:
        # ASGI has two ways to learn it, and which comes first is the event loop's choice: the
        # client's close queued for receive (the adapter watches it while sending: its 1000,
        # as docs/websockets.md says), or the server failing the send (1006). Either way it is
        # exactly one WebSocketDisconnect, and the handler's close() after it does not raise.
        assert outcome in ([1000], [1006])


@pytest.mark.parametrize("kind", ["text", "bytes", "json"])
def test_iterators_end_cleanly_when_the_client_leaves(
    make_client: ClientFactory, kind: str
) -> None:
    app = VelociPy()
    received: list[Any] = []
    finished: list[str] = []

    @app.websocket("/iter")
    async def iterate(ws: WebSocket) -> None:
        await ws.accept()
        iterator = {"text": ws.iter_text, "bytes": ws.iter_bytes, "json": ws.iter_json}[kind]
        async for item in iterator():
            received.append(item)
        finished.append("loop ended")

    payloads: dict[str, list[Any]] = {
        "text": ["a", "b", "c"],
        "bytes": [b"a", b"", b"c"],
        "json": [{"n": 1}, [2], None],
    }
    sent = payloads[kind]
    with make_client(app).websocket_connect("/iter") as session:
        for item in sent:
            if kind == "text":
                session.send_text(item)
            elif kind == "bytes":
                session.send_bytes(item)
            else:
                session.send_json(item)
        session.close(1001)
    assert received == sent
    assert finished == ["loop ended"]


@pytest.mark.parametrize(("kind", "payload"), [("text", b"binary"), ("bytes", "text")])
def test_an_iterator_given_the_other_kind_closes_with_1003_and_its_loop_ends(
    make_client: ClientFactory, protocol: str, kind: str, payload: str | bytes
) -> None:
    app = VelociPy()
    after_loop: list[str] = []

    @app.websocket("/iter")
    async def iterate(ws: WebSocket) -> None:
        await ws.accept()
        async for _ in ws.iter_text() if kind == "text" else ws.iter_bytes():
            pass
        after_loop.append(ws.connection_state.value)

    with make_client(app).websocket_connect("/iter") as session:
        if isinstance(payload, bytes):
            session.send_bytes(payload)
        else:
            session.send_text(payload)
        drain_until_closed(session)
        assert session.close_code == seen(protocol, 1003)[0]
    assert after_loop == ["closed"]  # the loop ended quietly, the code after it ran


def test_an_iterator_left_with_break_reads_nothing_ahead(make_client: ClientFactory) -> None:
    app = VelociPy()
    taken: list[str] = []

    @app.websocket("/iter")
    async def iterate(ws: WebSocket) -> None:
        await ws.accept()
        messages = ws.iter_text()
        async for text in messages:
            taken.append(f"loop {text}")
            break
        taken.append(f"receive {await ws.receive_text()}")
        async for text in messages:  # the same iterator goes on where receive left off
            taken.append(f"again {text}")
        async for text in messages:  # and, once the client left, stays ended
            taken.append(f"after the end {text}")

    with make_client(app).websocket_connect("/iter") as session:
        for text in ("one", "two", "three"):
            session.send_text(text)
        session.close(1000)
    assert taken == ["loop one", "receive two", "again three"]


def test_cancelling_the_servers_task_cancels_the_handler() -> None:
    """The handler runs in a task of its own; a server that cancels the connection's task
    (shutting down, say) still reaches the handler, which sees CancelledError in its await."""
    app = VelociPy()
    handler_saw: list[str] = []

    @app.websocket("/wait")
    async def wait(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except asyncio.CancelledError:
            handler_saw.append("cancelled")
            raise

    async def scenario() -> bool:
        messages = iter([{"type": "websocket.connect"}])
        waiting = asyncio.Event()

        async def receive() -> dict[str, Any]:
            message = next(messages, None)
            if message is not None:
                return message
            waiting.set()
            return await asyncio.get_running_loop().create_future()  # no message ever comes

        async def send(message: dict[str, Any]) -> None:
            pass

        scope = {"type": "websocket", "path": "/wait", "headers": [], "query_string": b""}
        connection = asyncio.create_task(app(scope, receive, send))
        await waiting.wait()  # the handler waits in receive_text()
        connection.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connection
        return connection.cancelled()

    assert asyncio.run(scenario()) is True
    assert handler_saw == ["cancelled"]


def test_granians_transport_is_released_when_a_handler_ends_with_a_departure() -> None:
    """The handler's task must not finish holding the exception: code that keeps the task it
    runs in (redis-py's timeouts do) would make a reference cycle through the exception's
    traceback to granian's transport, and the connection would wait for the garbage collector
    (the RSGI test client raises TransportNotReleased). The collector is off to show it."""
    app = VelociPy()

    @app.websocket("/ticks")
    async def ticks(ws: WebSocket) -> None:
        running_in = asyncio.current_task()  # kept, as a redis-py timeout keeps it
        await ws.accept()
        while running_in is not None:  # ends with WebSocketDisconnect(1006) once the client left
            await ws.send_text("tick")
            await asyncio.sleep(0.005)

    gc.disable()
    try:
        with TestClient(app, interface="rsgi") as client:
            with client.websocket_connect("/ticks") as session:
                assert session.receive_text() == "tick"
    finally:
        gc.enable()


def test_granians_transport_is_released_when_a_handler_keeps_the_disconnect_it_caught() -> None:
    """A handler may keep the ``WebSocketDisconnect`` a receive raised (to log it later, say):
    the frames in its traceback must not hold granian's transport, or the connection is not
    finished when the handler returns (the RSGI test client raises TransportNotReleased)."""
    app = VelociPy()
    kept: list[WebSocketDisconnect] = []

    @app.websocket("/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect as exc:
            kept.append(exc)

    with TestClient(app, interface="rsgi") as client:
        with client.websocket_connect("/chat") as session:
            session.send_text("hello")
    assert [exc.code for exc in kept] == [1005]  # RSGI: the client closed, its code unknown
    assert kept[0].__traceback__ is not None  # the frames are still there, without the transport


# --- the broadcast pattern ----------------------------------------------------------------------


def test_websockets_are_hashable_and_broadcast_works(client_for: ClientFactory) -> None:
    app = VelociPy()
    connections: set[WebSocket] = set()
    sizes: list[int] = []

    @app.websocket("/broadcast")
    async def broadcast(ws: WebSocket) -> None:
        await ws.accept()
        connections.add(ws)
        connections.add(ws)  # a set holds each connection once
        sizes.append(len(connections))
        try:
            while True:
                message = await ws.receive_text()
                for conn in list(connections):
                    if conn is not ws and not conn.closed:
                        await conn.send_text(message)
        finally:
            connections.discard(ws)
            if not ws.closed:
                await ws.close()

    client = client_for(app)
    with client.websocket_connect("/broadcast") as a, client.websocket_connect("/broadcast") as b:
        with client.websocket_connect("/broadcast") as c:
            c.send_text("from c")  # c connected last: a and b hearing it means all three joined
            assert a.receive_text() == "from c"
            assert b.receive_text() == "from c"
            a.send_text("from a")
            assert b.receive_text() == "from a"
            assert c.receive_text() == "from a"
            b.send_text("from b")
            assert a.receive_text() == "from b"  # nobody hears their own message
            assert c.receive_text() == "from b"
        a.send_text("after c left")
        assert b.receive_text() == "after c left"
    assert sizes == [1, 2, 3]
    assert connections == set()


# --- the docs page's snippets and the example, in process --------------------------------------


@pytest.mark.parametrize("module", ["tests.interop.apps.page_snippets", "examples.websocket"])
def test_page_patterns_in_process(make_client: ClientFactory, protocol: str, module: str) -> None:
    app = importlib.import_module(module).app
    client = make_client(app)
    with client.websocket_connect("/ws") as session:
        session.send_text("hi")
        assert session.receive_text() == "echo: hi"
    with client.websocket_connect("/rooms/7", headers={"X-Client-Name": "ada"}) as session:
        assert session.receive_text() == "joined room 7 as ada"
        session.send_text("yo")
        assert session.receive_text() == "[7] yo"
    with client.websocket_connect("/game") as session:
        session.send_json({"x": 1, "y": 2})
        assert session.receive_json()["ack"] == {"x": 1, "y": 2}
        session.send_text("{not json")
        drain_until_closed(session)
        assert session.close_code == seen(protocol, 1007)[0]
    with client.websocket_connect("/chat", subprotocols=["chat.v1"]) as session:
        assert session.receive_text() == "protocol accepted"
        assert session.subprotocol == ("chat.v1" if protocol == "asgi" else None)
        drain_until_closed(session)
        assert session.close_code == seen(protocol, 1000)[0]
    with client.websocket_connect("/guard") as session:
        session.send_text("hello")
        assert session.receive_text() == "ok: hello"
        session.send_text("quit")
        drain_until_closed(session)
        assert (session.close_code, session.close_reason) == seen(
            protocol, 1000, "client requested exit"
        )
    with pytest.raises(WebSocketDenied):
        client.websocket_connect("/nowhere")


def test_example_lists_its_sockets() -> None:
    from examples.websocket import app

    response = TestClient(app).get("/")
    assert response.status_code == 200
    paths = [socket["path"] for socket in response.json()["websockets"]]
    assert paths == ["/ws", "/rooms/{room_id}", "/game", "/bytes", "/chat", "/guard", "/broadcast"]
    assert all(socket["about"] for socket in response.json()["websockets"])


def test_a_handler_may_name_websocket_through_a_local_import(client_for: Any) -> None:
    """Its annotation is a string no module global resolves: the lone parameter is the socket."""

    def build() -> VelociPy:
        from velocipy import WebSocket as LocalSocket

        app = VelociPy()

        @app.websocket("/ws")
        async def greet(ws: LocalSocket) -> None:
            await ws.accept()
            await ws.send_text("hi")

        return app

    with client_for(build()).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"
