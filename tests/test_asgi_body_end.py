"""An ASGI body is whole once its declared Content-Length has arrived.

granian (``--interface asgi``) sends a body in a message with ``more_body=True`` and then an
empty last message; each ``receive()`` there is a trip to the server's thread. VelociPy stops
reading at the declared length, and whoever reads ``receive`` next (the disconnect watcher of a
streamed response, a mounted ASGI app) never sees that empty last message. A stand-in server
counts the receives; tests/interop runs the same requests over real granian.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from velocipy import Request, StreamingResponse, VelociPy

ORDER = b'{"item": "book", "quantity": 2}'


class GranianLike:
    """Sends ``chunks`` with more_body=True, then the empty last message, then (only once
    ``leave()`` is called) ``http.disconnect``; records each receive and the response."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
        ]
        self.messages.append({"type": "http.request", "body": b"", "more_body": False})
        self.received: list[dict[str, Any]] = []
        self.receives_before_response: int | None = None
        self.status: int | None = None
        self.body = b""
        self.left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            message = self.messages.pop(0)
        else:
            await self.left.wait()
            message = {"type": "http.disconnect"}
        self.received.append(message)
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.receives_before_response = len(self.received)
        else:
            self.body += message.get("body", b"")

    def leave(self) -> None:
        self.left.set()


def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"test"), *headers],
    }


def length(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(len(body)).encode())]


def echo_app() -> VelociPy:
    app = VelociPy()

    @app.post("/echo")
    async def echo(request: Request) -> bytes:
        return await request.body()

    return app


@pytest.mark.parametrize(
    "chunks", [[ORDER], [ORDER[:10], ORDER[10:]]], ids=["one message", "two messages"]
)
def test_the_body_ends_at_its_declared_length_without_waiting_for_the_last_message(
    chunks: list[bytes],
) -> None:
    server = GranianLike(chunks)
    asyncio.run(echo_app()(scope("/echo", length(ORDER)), server.receive, server.send))
    assert (server.status, server.body) == (200, ORDER)
    assert server.receives_before_response == len(chunks)  # the empty last one is not awaited


def test_a_chunked_body_is_read_to_its_last_message() -> None:
    server = GranianLike([ORDER[:10], ORDER[10:]])
    headers = [(b"transfer-encoding", b"chunked")]
    asyncio.run(echo_app()(scope("/echo", headers), server.receive, server.send))
    assert (server.status, server.body) == (200, ORDER)
    assert server.receives_before_response == 3  # no length to go by: the last message says so


def test_a_body_shorter_than_declared_is_still_read_to_its_last_message() -> None:
    server = GranianLike([ORDER])
    declared = [(b"content-length", str(len(ORDER) + 5).encode())]
    asyncio.run(echo_app()(scope("/echo", declared), server.receive, server.send))
    assert server.receives_before_response == 2  # the declared length never came
    assert (server.status, server.body) == (200, ORDER)  # the server decides what arrived


def test_a_streamed_response_after_the_body_stops_when_the_client_leaves() -> None:
    app = VelociPy()
    sent: list[int] = []
    stopped = asyncio.Event()

    @app.post("/ticks")
    async def ticks(request: Request) -> StreamingResponse:
        await request.body()

        async def count() -> Any:
            try:
                for number in range(1000):
                    sent.append(number)
                    yield f"{number}\n".encode()
                    await asyncio.sleep(0.01)
            finally:
                stopped.set()

        return StreamingResponse(count())

    async def scenario() -> GranianLike:
        server = GranianLike([ORDER])
        call = asyncio.create_task(app(scope("/ticks", length(ORDER)), server.receive, server.send))
        while len(sent) < 3:
            await asyncio.sleep(0.01)
        server.leave()
        await asyncio.wait_for(stopped.wait(), 5)  # the watcher saw the disconnect
        await asyncio.wait_for(call, 5)
        return server

    server = asyncio.run(scenario())
    assert server.receives_before_response == 1
    # The watcher read past the empty last message to the disconnect, and stopped there.
    assert [m["type"] for m in server.received] == ["http.request"] * 2 + ["http.disconnect"]
    assert len(sent) < 1000


def test_a_mounted_app_after_middleware_read_the_body_never_sees_the_last_message() -> None:
    seen: list[dict[str, Any]] = []

    async def mounted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(await receive())  # the body, replayed
        seen.append(await receive())  # then what ASGI promises: the disconnect
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = VelociPy()
    app.mount("/graphql", mounted)

    @app.middleware
    async def read_body_first(request: Request, call_next: Any) -> Any:
        await request.body()
        return await call_next(request)

    async def scenario() -> GranianLike:
        server = GranianLike([ORDER])
        server.leave()  # the disconnect is there as soon as something asks past the body
        await app(scope("/graphql", length(ORDER)), server.receive, server.send)
        return server

    server = asyncio.run(scenario())
    assert server.status == 204
    assert seen == [
        {"type": "http.request", "body": ORDER, "more_body": False},
        {"type": "http.disconnect"},
    ]


class UvicornLike(GranianLike):
    """Sends the whole body in one message with more_body=False, as uvicorn does."""

    def __init__(self, body: bytes) -> None:
        super().__init__([])
        self.messages = [{"type": "http.request", "body": body, "more_body": False}]


@pytest.mark.parametrize(("extra", "status"), [(-1, 200), (0, 200), (1, 413)])
def test_a_body_in_one_message_is_taken_in_one_receive_and_held_to_the_limit(
    extra: int, status: int
) -> None:
    """No declared length (chunked), so only the received size can be refused: at, below and
    above max_body_size; one receive either way, and the app still answers the next one."""
    limit = 64
    body = b"x" * (limit + extra)
    app = VelociPy(max_body_size=limit)

    @app.post("/echo")
    async def echo(request: Request) -> bytes:
        return await request.body()

    chunked = [(b"transfer-encoding", b"chunked")]
    server = UvicornLike(body)
    asyncio.run(app(scope("/echo", chunked), server.receive, server.send))
    expected = (
        body if status == 200 else b'{"detail":"Request body is larger than the limit of 64 bytes"}'
    )
    assert (server.status, server.body) == (status, expected)
    assert server.receives_before_response == 1
    after = UvicornLike(b"ok")
    asyncio.run(app(scope("/echo", chunked), after.receive, after.send))
    assert (after.status, after.body) == (200, b"ok")


def test_a_client_gone_before_its_body_is_answered_as_a_broken_body_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first receive is a disconnect: the one-message path hands it to the stream reader,
    which answers as for any body that ended early, with nothing logged as an error."""
    server = UvicornLike(b"")
    server.messages = [{"type": "http.disconnect"}]
    asyncio.run(echo_app()(scope("/echo", length(ORDER)), server.receive, server.send))
    assert server.status == 400
    assert b"ended early" in server.body
    assert len(server.received) == 1
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
