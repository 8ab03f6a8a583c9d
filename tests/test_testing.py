"""The test client and its fake servers, checked with small hand-written ASGI and RSGI apps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.support import http_request
from velocipy import StreamingResponse, VelociPy, WebSocket
from velocipy.testing import (
    LifespanError,
    RSGIProtocolClosed,
    RSGIProtocolError,
    StreamNotReleased,
    TestClient,
    TransportNotReleased,
    WebSocketClosed,
    WebSocketDenied,
    WorkerCrash,
)

# ---------------------------------------------------------------- raw ASGI apps


async def read_body(receive: Any) -> list[bytes]:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message["body"])
        if not message.get("more_body"):
            return chunks


async def respond(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


async def asgi_echo(scope: Any, receive: Any, send: Any) -> None:
    """Reports what it saw as JSON-ish text, and streams when asked to."""
    assert scope["type"] == "http"
    chunks = await read_body(receive)
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    seen = repr(
        (scope["method"], scope["path"], scope["raw_path"], scope["query_string"], chunks)
    ).encode()
    await respond(
        send,
        201,
        seen,
        [
            (b"X-Seen-Type", headers.get("content-type", "").encode()),
            (b"set-cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
        ],
    )


def test_asgi_request_reaches_the_app_as_sent() -> None:
    client = TestClient(asgi_echo)
    response = client.post("/a b/%C3%A9?x=1", params={"q": ["y", "z"]}, json={"k": 1})
    assert response.status_code == 201
    method, path, raw_path, query, chunks = eval(response.text)
    assert (method, path, raw_path) == ("POST", "/a b/é", b"/a%20b/%C3%A9")
    assert query == b"x=1&q=y&q=z"
    assert b"".join(chunks) == b'{"k":1}'
    assert response.headers["x-seen-type"] == "application/json"
    assert response.headers["X-SEEN-TYPE"] == "application/json"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert client.cookies == {"a": "1", "b": "2"}
    form = client.post("/form", data={"a": "1 2", "b": "&"})
    assert eval(form.text)[4] == [b"a=1+2&b=%26"]
    assert form.headers["x-seen-type"] == "application/x-www-form-urlencoded"


def test_asgi_iterator_content_arrives_in_several_chunks() -> None:
    client = TestClient(asgi_echo)
    response = client.put("/", content=iter([b"ab", b"", b"cd", b"e"]))
    chunks = eval(response.text)[4]
    assert chunks == [b"ab", b"cd", b"e"]
    big = client.post("/", content=b"x" * 150_000)
    assert [len(c) for c in eval(big.text)[4]] == [65536, 65536, 18928]


def test_asgi_streamed_response_is_collected() -> None:
    assert TestClient(asgi_echo).get("/stream").text == "one two three"


async def asgi_misc(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    path = scope["path"]
    if path == "/boom":
        raise ValueError("boom")
    if path == "/silent":
        return
    if path == "/file":
        assert "http.response.pathsend" in scope["extensions"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": scope["query_string"].decode()})
        return
    await respond(send, 200, b"body", [(b"content-length", b"4")])


def test_asgi_pathsend_and_head(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"file body")
    client = TestClient(asgi_misc)
    assert client.get(f"/file?{target}").content == b"file body"
    head = client.head("/")
    assert head.content == b""
    assert head.headers["content-length"] == "4"


def test_asgi_app_errors() -> None:
    with pytest.raises(ValueError, match="boom"):
        TestClient(asgi_misc).get("/boom")
    quiet = TestClient(asgi_misc, raise_server_exceptions=False)
    response = quiet.get("/boom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert quiet.get("/silent").status_code == 500


def make_asgi_lifespan_app(events: list[str], fail: bool = False) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                phase = message["type"].split(".")[1]
                events.append(phase)
                if fail:
                    await send({"type": "lifespan.startup.failed", "message": "db down"})
                    return
                scope["state"]["ready"] = True
                await send({"type": f"lifespan.{phase}.complete"})
                if phase == "shutdown":
                    return
        events.append(f"request ready={scope['state'].get('ready')}")
        await respond(send, 200, b"ok")

    return app


def test_asgi_lifespan_runs_around_requests() -> None:
    events: list[str] = []
    with TestClient(make_asgi_lifespan_app(events)) as client:
        client.get("/")
    assert events == ["startup", "request ready=True", "shutdown"]


def test_asgi_failed_startup_raises_on_enter() -> None:
    with (
        pytest.raises(LifespanError, match="db down"),
        TestClient(make_asgi_lifespan_app([], fail=True)),
    ):
        pass


async def asgi_ws(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/deny":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["path"] == "/forget":
        await send({"type": "websocket.accept"})
        return
    offered = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": offered[-1] if offered else None})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            scope["state"]["disconnect"] = message["code"]
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4001, "reason": "see you"})
            return
        if message.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        else:
            await send({"type": "websocket.send", "text": f"echo {message['text']}"})


def test_asgi_websocket_flow() -> None:
    client = TestClient(asgi_ws)
    with client.websocket_connect("/ws", subprotocols=["a", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1"
        ws.send_text("hi")
        assert ws.receive_text() == "echo hi"
        ws.send_bytes(b"abc")
        assert ws.receive_bytes() == b"cba"
        ws.send_json({"n": 1})
        assert ws.receive_text() == 'echo {"n":1}'
        ws.send_text("bye")
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4001, "see you")
    assert (ws.close_code, ws.close_reason) == (4001, "see you")


def test_asgi_websocket_refusals_and_implied_close() -> None:
    client = TestClient(asgi_ws)
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/deny")
    assert denied.value.status_code == 403
    with client.websocket_connect("/forget") as ws, pytest.raises(WebSocketClosed) as closed:
        ws.receive_text()
    assert closed.value.code == 1000  # uvicorn closes for a handler that returns


def test_asgi_client_close_code_reaches_app() -> None:
    events: list[str] = []
    lifespan_app = make_asgi_lifespan_app(events)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan_app(scope, receive, send)
        else:
            await asgi_ws(scope, receive, send)
            events.append(f"disconnect {scope['state']['disconnect']}")

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.close(code=4100)
        assert events[-1] == "disconnect 4100"


def test_websocket_receive_times_out_clearly() -> None:
    with (
        TestClient(asgi_ws).websocket_connect("/ws") as ws,
        pytest.raises(TimeoutError, match="a message"),
    ):
        ws.receive_text(timeout=0.2)


# ---------------------------------------------------------------- raw RSGI apps


class RSGIApp:
    """An RSGI app whose HTTP behaviour is one function per path, set by each test."""

    def __init__(self, **routes: Any) -> None:
        self.routes = routes
        self.events: list[str] = []
        self.seen: list[Any] = []

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        self.seen.append(scope)
        await self.routes[scope.path.strip("/") or "index"](scope, protocol)


def rsgi_client(raise_server_exceptions: bool = True, **routes: Any) -> TestClient:
    return TestClient(
        RSGIApp(**routes), "rsgi", raise_server_exceptions=raise_server_exceptions, timeout=3
    )


def test_rsgi_scope_is_frozen_and_granian_shaped() -> None:
    async def index(scope: Any, protocol: Any) -> None:
        protocol.response_empty(204, [])

    client = rsgi_client(index=index)
    client.get("/?a=%20b", headers={"X-Multi": "1"})
    app = client.app
    assert isinstance(app, RSGIApp)
    scope = app.seen[0]
    assert (scope.proto, scope.rsgi_version, scope.http_version) == ("http", "1.6", "1.1")
    assert (scope.server, scope.client) == ("testserver:80", "127.0.0.1:50000")
    assert (scope.scheme, scope.method, scope.path) == ("http", "GET", "/")
    assert (scope.query_string, scope.authority) == ("a=%20b", None)
    with pytest.raises(AttributeError):
        scope.path = "/other"
    with pytest.raises(TypeError):
        scope["path"]


def test_rsgi_path_is_percent_decoded() -> None:
    seen = []

    async def route(scope: Any, protocol: Any) -> None:
        seen.append(scope.path)
        protocol.response_empty()

    TestClient(route, "rsgi").get("/scope/a%20b/%E2%9C%93")
    assert seen == ["/scope/a b/✓"]


def test_rsgi_headers_behave_like_granian() -> None:
    captured = []

    async def index(scope: Any, protocol: Any) -> None:
        captured.append(scope.headers)
        protocol.response_empty()

    rsgi_client(index=index).get(
        "/", headers=[("X-A", "1"), ("x-a", "2"), ("X-NA", "café"), ("Accept", "text/html")]
    )
    headers = captured[0]
    assert headers.get("X-A") == headers.get("x-a") == headers["X-a"] == "1"
    assert headers.get_all("x-A") == ["1", "2"]
    assert "X-A" in headers
    assert "x-missing" not in headers
    with pytest.raises(KeyError):
        headers["x-missing"]
    assert headers.get("x-missing", "d") == "d"
    assert all(name == name.lower() for name in headers.keys())
    assert len(headers) == len(headers.keys()) == len(set(headers.keys()))
    assert [v for k, v in headers.items() if k == "x-a"] == ["1", "2"]
    # not visible ASCII: silently dropped, but the name is still listed
    assert headers.get("x-na") is None
    assert headers["x-na"] == ""
    assert "x-na" in headers.keys()
    assert "café" not in headers.values()


def test_rsgi_body_is_read_once_with_a_trailing_empty_chunk() -> None:
    results: list[Any] = []

    async def whole(scope: Any, protocol: Any) -> None:
        results.append(await protocol())
        try:
            await protocol()
        except RSGIProtocolError as exc:
            results.append(exc)
        protocol.response_empty()

    async def iterate(scope: Any, protocol: Any) -> None:
        results.append([chunk async for chunk in protocol])
        with pytest.raises(RSGIProtocolError):
            async for _ in protocol:
                pass
        protocol.response_empty()

    client = rsgi_client(whole=whole, iterate=iterate)
    client.post("/whole", content=iter([b"ab", b"cd"]))
    assert results[0] == b"abcd"
    assert isinstance(results[1], RuntimeError)
    assert str(results[1]) == "RSGI protocol error"
    client.post("/iterate", content=iter([b"ab", b"cd"]))
    assert results[2] == [b"ab", b"cd", b""]


@pytest.mark.parametrize("status", [99, 1000, 0])
def test_rsgi_bad_status_kills_the_worker_even_if_caught(status: int) -> None:
    async def index(scope: Any, protocol: Any) -> None:
        try:
            protocol.response_bytes(status, [], b"x")
        except BaseException:  # a framework that swallows it still crashed the worker
            protocol.response_bytes(500, [], b"fallback")

    with pytest.raises(WorkerCrash, match=str(status)):
        rsgi_client(index=index).get("/")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([["content-type", "text/plain"]], "'list' object is not an instance of 'tuple'"),
        ([(b"content-type", b"text/plain")], "'bytes' object is not an instance of 'str'"),
        ({"content-type": "text/plain"}, "cannot be converted to 'Sequence'"),
    ],
)
def test_rsgi_response_headers_must_be_tuples_of_str(headers: Any, message: str) -> None:
    async def index(scope: Any, protocol: Any) -> None:
        protocol.response_bytes(200, headers, b"x")

    with pytest.raises(TypeError, match=message):
        rsgi_client(index=index).get("/")


def test_rsgi_response_argument_types() -> None:
    async def text_bytes(scope: Any, protocol: Any) -> None:
        protocol.response_str(200, [], b"x")

    async def bytes_text(scope: Any, protocol: Any) -> None:
        protocol.response_bytes(200, [], "x")

    async def status_text(scope: Any, protocol: Any) -> None:
        protocol.response_empty("200", [])

    client = rsgi_client(text_bytes=text_bytes, bytes_text=bytes_text, status_text=status_text)
    for path in ("/text_bytes", "/bytes_text", "/status_text"):
        with pytest.raises(TypeError):
            client.get(path)


def test_rsgi_first_response_wins_and_missing_response_is_500() -> None:
    async def double(scope: Any, protocol: Any) -> None:
        protocol.response_str(
            200, [("x-one", "1"), ("bad name", "v"), ("x-crlf", "a\r\nb")], "first"
        )
        protocol.response_str(201, [], "second")
        with pytest.raises(RSGIProtocolError):
            protocol.response_stream(200, [])

    async def nothing(scope: Any, protocol: Any) -> None:
        return None

    async def informational(scope: Any, protocol: Any) -> None:
        protocol.response_bytes(100, [], b"x")

    client = rsgi_client(double=double, nothing=nothing, informational=informational)
    first = client.get("/double")
    assert (first.status_code, first.text) == (200, "first")
    assert first.headers.multi_items() == [("x-one", "1"), ("content-length", "5")]
    for path in ("/nothing", "/informational"):
        empty = client.get(path)
        assert (empty.status_code, empty.content) == (500, b"")


def test_rsgi_app_error_is_raised_or_500_empty() -> None:
    async def boom(scope: Any, protocol: Any) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        rsgi_client(boom=boom).get("/boom")
    response = rsgi_client(False, boom=boom).get("/boom")
    assert (response.status_code, response.content) == (500, b"")


def test_rsgi_stream_transport() -> None:
    async def stream(scope: Any, protocol: Any) -> None:
        transport = protocol.response_stream(200, [("content-type", "text/plain")])
        await transport.send_bytes(b"one ")
        await transport.send_str("two")
        with pytest.raises(TypeError):
            await transport.send_bytes("three")

    response = rsgi_client(stream=stream).get("/stream")
    assert (response.status_code, response.text) == (200, "one two")
    assert "content-length" not in response.headers


def test_rsgi_stream_kept_alive_never_ends() -> None:
    leaked: list[Any] = []

    async def leak(scope: Any, protocol: Any) -> None:
        transport = protocol.response_stream(200, [])
        await transport.send_bytes(b"partial")
        leaked.append(transport)

    # The wait for the release is half the timeout: generous, so a loaded machine cannot
    # turn the overall timeout into the failure instead.
    client = TestClient(RSGIApp(leak=leak), "rsgi", timeout=4.0)
    with pytest.raises(StreamNotReleased, match="still referenced"):
        client.get("/leak")


def test_rsgi_files(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789")

    async def whole(scope: Any, protocol: Any) -> None:
        protocol.response_file(200, [], str(target))

    async def part(scope: Any, protocol: Any) -> None:
        with pytest.raises(ValueError, match="Invalid range"):
            protocol.response_file_range(206, [], str(target), 5, 5)
        protocol.response_file_range(206, [("content-range", "bytes 2-4/10")], str(target), 2, 5)

    async def missing(scope: Any, protocol: Any) -> None:
        protocol.response_file(200, [], str(tmp_path / "nope"))

    async def as_path(scope: Any, protocol: Any) -> None:
        protocol.response_file(200, [], target)

    client = rsgi_client(whole=whole, part=part, missing=missing, as_path=as_path)
    full = client.get("/whole")
    assert (full.content, "content-length" in full.headers) == (b"0123456789", False)
    assert client.get("/part").content == b"234"
    gone = client.get("/missing")
    assert (gone.status_code, gone.text) == (404, "Not found")
    with pytest.raises(TypeError):
        client.get("/as_path")


def test_rsgi_client_disconnect_resolves_after_the_response() -> None:
    done: list[str] = []

    async def index(scope: Any, protocol: Any) -> None:
        protocol.response_str(200, [], "ok")
        await asyncio.wait_for(protocol.client_disconnect(), 2)
        done.append("disconnected")

    with rsgi_client(index=index) as client:
        assert client.get("/").text == "ok"
    assert done == ["disconnected"]


class RSGILifespanApp(RSGIApp):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(index=self.index)
        self.fail = fail

    async def index(self, scope: Any, protocol: Any) -> None:
        self.events.append("request")
        protocol.response_empty()

    async def _record(self, what: str) -> None:
        self.events.append(what)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(f"init running={loop.is_running()}")
        loop.run_until_complete(self._record("startup ran"))
        if self.fail:
            raise RuntimeError("startup failed")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(f"del running={loop.is_running()} closed={loop.is_closed()}")
        loop.run_until_complete(self._record("shutdown ran"))


def test_rsgi_lifespan_hooks_get_a_stopped_loop() -> None:
    app = RSGILifespanApp()
    with TestClient(app, "rsgi") as client:
        client.get("/")
    assert app.events == [
        "init running=False",
        "startup ran",
        "request",
        "del running=False closed=False",
        "shutdown ran",
    ]
    bare = RSGILifespanApp()
    TestClient(bare, "rsgi").get("/")
    assert bare.events == ["request"]  # no lifespan without `with`


def test_rsgi_failing_init_raises_on_enter() -> None:
    with (
        pytest.raises(RuntimeError, match="startup failed"),
        TestClient(RSGILifespanApp(fail=True), "rsgi"),
    ):
        pass


# ---------------------------------------------------------------- RSGI WebSockets


def rsgi_ws(handler: Any) -> TestClient:
    async def app(scope: Any, protocol: Any) -> None:
        assert (scope.proto, scope.scheme, scope.method) == ("ws", "http", "GET")
        await handler(scope, protocol)

    return TestClient(app, "rsgi", timeout=3)


def test_rsgi_websocket_echo_has_no_subprotocol_and_closes_with_1005() -> None:
    seen: list[Any] = []

    async def handler(scope: Any, protocol: Any) -> None:
        seen.append(scope.headers.get("sec-websocket-protocol"))
        transport = await protocol.accept()
        while True:
            message = await transport.receive()
            seen.append(message.kind)
            if message.kind == 0:
                assert not hasattr(message, "data")
                return
            if message.data == "bye":
                protocol.close(1000)
                with pytest.raises(RSGIProtocolError):
                    await transport.send_str("late")
                return
            if message.kind == 1:
                await transport.send_bytes(message.data)
            else:
                await transport.send_str(f"echo {message.data}")

    client = rsgi_ws(handler)
    with client.websocket_connect("/ws", subprotocols=["chat", "superchat"]) as ws:
        assert ws.subprotocol is None
        ws.send_text("hi")
        assert ws.receive_text() == "echo hi"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_text("bye")
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive()
    assert (closed.value.code, ws.close_code, ws.close_reason) == (1005, 1005, "")
    assert seen == ["chat, superchat", 2, 1, 2]

    with client.websocket_connect("/ws") as ws:
        ws.close(4001)
    assert seen[-1] == 0  # the client's close arrives as kind 0, without its code


def test_rsgi_websocket_transport_kept_after_return_is_reported() -> None:
    kept: list[Any] = []

    async def handler(scope: Any, protocol: Any) -> None:
        kept.append(await protocol.accept())  # under granian the connection never finishes

    with (
        pytest.raises(TransportNotReleased),
        rsgi_ws(handler).websocket_connect("/ws") as ws,
    ):
        ws.receive_text()


def test_velocipy_releases_the_rsgi_transport_even_when_the_app_keeps_the_socket() -> None:
    app = VelociPy()
    roster: set[WebSocket] = set()

    @app.websocket("/ws")
    async def remember(ws: WebSocket) -> None:
        roster.add(ws)
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(text)

    with TestClient(app, "rsgi", timeout=3).websocket_connect("/ws") as ws:
        ws.send_text("still here")
        assert ws.receive_text() == "still here"
    assert len(roster) == 1


@pytest.mark.parametrize(("status", "expected"), [(None, 403), (401, 401)])
def test_rsgi_websocket_close_before_accept_refuses(status: int | None, expected: int) -> None:
    async def handler(scope: Any, protocol: Any) -> None:
        protocol.close(status)

    with pytest.raises(WebSocketDenied) as denied:
        rsgi_ws(handler).websocket_connect("/ws")
    assert denied.value.status_code == expected


def test_rsgi_websocket_returning_without_accept_is_403() -> None:
    async def handler(scope: Any, protocol: Any) -> None:
        return None

    with pytest.raises(WebSocketDenied) as denied:
        rsgi_ws(handler).websocket_connect("/ws")
    assert denied.value.status_code == 403


@pytest.mark.parametrize("mistake", ["close 1000 before accept", "accept twice"])
def test_rsgi_websocket_worker_killers(mistake: str) -> None:
    async def handler(scope: Any, protocol: Any) -> None:
        if mistake == "accept twice":
            await protocol.accept()
            try:
                await protocol.accept()
            except BaseException:
                return
        else:
            try:
                protocol.close(1000)
            except BaseException:
                return

    with pytest.raises(WorkerCrash):
        rsgi_ws(handler).websocket_connect("/ws").close()


def test_rsgi_websocket_transport_errors() -> None:
    outcome: list[str] = []

    async def handler(scope: Any, protocol: Any) -> None:
        transport = await protocol.accept()
        first = asyncio.ensure_future(transport.receive())
        await asyncio.sleep(0)
        try:
            await transport.receive()
        except RSGIProtocolError:
            outcome.append("concurrent receive refused")
        assert (await first).kind == 0  # the client closed
        try:
            await transport.receive()
        except RSGIProtocolClosed as exc:
            outcome.append(f"receive after close: {exc}")
        try:
            await transport.send_str("anyone?")
        except RSGIProtocolClosed:
            outcome.append("send after close refused")

    with rsgi_ws(handler).websocket_connect("/ws") as ws:
        ws.close()
    assert outcome == [
        "concurrent receive refused",
        "receive after close: RSGI transport is closed",
        "send after close refused",
    ]


# ---------------------------------------------------------------- a VelociPy app, both protocols


class Item(msgspec.Struct):
    name: str
    tags: list[str] = []


def build_velocipy_app(events: list[str], debug: bool = False) -> VelociPy:
    app = VelociPy(
        debug=debug,
        on_startup=[lambda: events.append("startup")],
        on_shutdown=[lambda: events.append("shutdown")],
    )

    @app.get("/items/{item_id:int}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"id": item_id, "q": q}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/count")
    async def count() -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            for number in range(3):
                yield f"{number};"

        return StreamingResponse(numbers(), media_type="text/plain")

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("handler failed")

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            if text == "bye":
                await ws.close(code=4000, reason="bye")
                return
            await ws.send_text(f"echo: {text}")

    return app


def test_velocipy_http_on_both_protocols(make_client: Any) -> None:
    events: list[str] = []
    with make_client(build_velocipy_app(events)) as client:
        assert events == ["startup"]
        response = client.get("/items/3", params={"q": "x"})
        assert (response.status_code, response.json()) == (200, {"id": 3, "q": "x"})
        assert response.headers["Content-Type"].startswith("application/json")
        created = client.post("/items", content=iter([b'{"name": "a', b'", "tags": ["t"]}']))
        assert created.json() == {"name": "a", "tags": ["t"]}
        assert client.get("/count").text == "0;1;2;"
        assert client.get("/items/nope").status_code == 422
        assert client.get("/boom").status_code == 500
    assert events == ["startup", "shutdown"]


def test_velocipy_debug_errors_reach_the_test(make_client: Any) -> None:
    client = make_client(build_velocipy_app([], debug=True))
    with pytest.raises(ValueError, match="handler failed"):
        client.get("/boom")


def test_velocipy_websocket_on_both_protocols(protocol: str, make_client: Any) -> None:
    client = make_client(build_velocipy_app([]))
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo: hi"
        ws.send_text("bye")
        with pytest.raises(WebSocketClosed):
            ws.receive_text()
    # RSGI cannot carry a close code: the client sees 1005, exactly as under granian
    expected = (4000, "bye") if protocol == "asgi" else (1005, "")
    assert (ws.close_code, ws.close_reason) == expected
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/missing")
    assert denied.value.status_code == 403


def test_no_loop_thread_outlives_its_client() -> None:
    client = TestClient(asgi_ws)
    with client.websocket_connect("/ws") as ws:
        ws.send_text("x")
        ws.receive_text()
    TestClient(asgi_echo).get("/")
    with TestClient(RSGILifespanApp(), "rsgi") as rsgi:
        rsgi.get("/")
    assert not [t for t in threading.enumerate() if t.name == "velocipy-testclient-loop"]


# ---------------------------------------------------------------- the fakes against real servers

DUAL_APP = """
class App:
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/nothing":
            return
        text = f"{scope['path']}|{scope['query_string'].decode()}|{body.decode()}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text.encode()})

    async def __rsgi__(self, scope, protocol):
        body = await protocol()
        if scope.path == "/nothing":
            return
        protocol.response_str(200, [], f"{scope.path}|{scope.query_string}|{body.decode()}")

app = App()
"""


@pytest.mark.interop
def test_fakes_answer_like_the_real_server(server_kind: str, serve: Any, tmp_path: Path) -> None:
    (tmp_path / "dual.py").write_text(DUAL_APP)
    namespace: dict[str, Any] = {}
    exec(DUAL_APP, namespace)
    interface = "rsgi" if server_kind == "granian-rsgi" else "asgi"
    client = TestClient(namespace["app"], interface)
    with serve("dual:app", server_kind, tmp_path) as server:
        for method, path, body in [
            ("GET", "/a%20b/%E2%9C%93?x=%20y&z", None),
            ("POST", "/post", b"payload"),
            ("GET", "/nothing", None),
        ]:
            real = http_request(server.url + path, method=method, data=body)
            fake = client.request(method, path, content=body)
            assert fake.status_code == real.status
            if real.status == 200:
                assert fake.content == real.body
