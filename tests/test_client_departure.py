"""Clients that leave: mid-body (quiet 400, no error log) and mid-stream (the generator stops).

In-process on both protocols with minimal server stand-ins that can simulate the departure
(the TestClient's client never leaves); tests/interop/test_hostile_http.py does the same over
real uvicorn and granian processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from velocipy import Request, StreamingResponse, VelociPy
from velocipy.testing.rsgi_fakes import RSGIHeaders, RSGIHTTPScope


class Departure:
    """One request whose client leaves: after the body (``body_complete``) or in the middle."""

    def __init__(self, body: list[bytes], *, body_complete: bool) -> None:
        self.body = list(body)
        self.body_complete = body_complete
        self.left = asyncio.Event()
        self.status: int | None = None
        self.sent: list[bytes] = []

    # ASGI server side
    async def receive(self) -> dict[str, Any]:
        if self.body:
            chunk = self.body.pop(0)
            more = bool(self.body) or not self.body_complete
            return {"type": "http.request", "body": chunk, "more_body": more}
        if not self.body_complete:
            self.left.set()
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.sent.append(message.get("body", b""))  # uvicorn: silent after a departure

    # RSGI protocol side
    async def __call__(self) -> bytes:
        raise RuntimeError("RSGI transport is closed")  # what RSGIProtocolClosed is

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.body:
            yield chunk
        yield b""
        if not self.body_complete:
            yield b""  # granian's sign of a body that broke off

    async def client_disconnect(self) -> None:
        await self.left.wait()

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.sent.append(body)

    def response_stream(self, status: int, headers: Any) -> Any:
        self.status = status
        departure = self

        class Transport:
            async def send_bytes(self, data: bytes) -> None:
                departure.sent.append(data)  # granian RSGI: no error on a waiting stream

        return Transport()


async def serve(app: VelociPy, protocol: str, method: str, path: str, visit: Departure) -> None:
    headers = [("host", "test")] if visit.body_complete else [("transfer-encoding", "chunked")]
    if protocol == "asgi":
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [(n.encode(), v.encode()) for n, v in headers],
        }
        await app(scope, visit.receive, visit.send)
    else:
        rsgi_scope = RSGIHTTPScope(
            proto="http",
            rsgi_version="1.6",
            http_version="1.1",
            server="127.0.0.1:8000",
            client="127.0.0.1:5000",
            scheme="http",
            method=method,
            path=path,
            query_string="",
            authority=None,
            headers=RSGIHeaders(headers),
        )
        await app.__rsgi__(rsgi_scope, visit)


def test_body_cut_short_is_a_quiet_400(protocol: str, caplog: pytest.LogCaptureFixture) -> None:
    app = VelociPy()
    seen: list[str] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        try:
            return {"len": len(await request.body())}
        except Exception as exc:
            seen.append(repr(exc.__context__))
            raise

    visit = Departure([b"abc"], body_complete=False)
    with caplog.at_level(logging.DEBUG, logger="velocipy"):
        asyncio.run(serve(app, protocol, "POST", "/echo", visit))
    assert visit.status == 400
    assert "ended early" in json.loads(visit.sent[0])["detail"]
    assert seen == ["None"]  # no chained AttributeError: _body
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("ended early" in r.getMessage() for r in caplog.records)  # debug only


@pytest.mark.parametrize("kind", ["busy", "waiting"])
def test_stream_stops_when_the_client_leaves(protocol: str, kind: str) -> None:
    app = VelociPy()
    finished = asyncio.Event()

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick"
                    await asyncio.sleep(0.001 if kind == "busy" else 3600)
            finally:
                finished.set()

        return StreamingResponse(chunks())

    async def scenario() -> Departure:
        visit = Departure([b""], body_complete=True)
        served = asyncio.create_task(serve(app, protocol, "GET", "/stream", visit))
        while not visit.sent:
            await asyncio.sleep(0.001)
        visit.left.set()  # the client closes the connection
        await asyncio.wait_for(served, 10)
        return visit

    visit = asyncio.run(scenario())
    assert finished.is_set()
    assert visit.status == 200


def test_a_plain_iterator_busy_in_its_thread_when_the_client_leaves(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Its thread is still in next(): the stream ends quietly, and the iterator is not closed
    under that thread's feet (which raises 'generator already executing')."""
    app = VelociPy()
    release, blocked = threading.Event(), threading.Event()

    def lines() -> Iterator[bytes]:
        yield b"first"
        blocked.set()
        release.wait(10)  # blocked in the worker thread when the client leaves
        yield b"second"

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(lines())

    async def scenario() -> Departure:
        visit = Departure([b""], body_complete=True)
        served = asyncio.create_task(serve(app, protocol, "GET", "/stream", visit))
        while not blocked.is_set():
            await asyncio.sleep(0.001)
        visit.left.set()
        try:
            await asyncio.wait_for(served, 10)  # raises if closing failed
        finally:
            release.set()
        return visit

    visit = asyncio.run(scenario())
    assert visit.status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_streamed_response_may_still_read_the_request_body(protocol: str) -> None:
    """The departure watcher reads ``receive`` on ASGI: body chunks it sees are handed on."""
    from velocipy.testing import TestClient

    app = VelociPy()

    @app.post("/mirror")
    async def mirror(request: Request) -> StreamingResponse:
        return StreamingResponse(request.stream())

    client = TestClient(app, interface=protocol)  # type: ignore[arg-type]
    chunks = [b"one,", b"two,", b"three"]
    assert client.post("/mirror", content=iter(chunks)).content == b"one,two,three"
    assert client.post("/mirror", content=b"x" * 200_000).content == b"x" * 200_000
