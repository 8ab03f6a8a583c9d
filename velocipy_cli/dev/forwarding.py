"""HTTP through the dev proxy: h11 on both sides, bodies streamed, upgrades handed on.

A request waits while a worker (re)starts; a GET, HEAD or OPTIONS whose worker is replaced
before it answers is sent to the new one (docs/dev-proxy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import h11

from velocipy_cli.dev.bridge import WebSocketBridge
from velocipy_cli.dev.upstream import (
    HEAD_POLL_SECONDS,
    HOP_HEADERS,
    READ_CHUNK,
    RETRYABLE_METHODS,
    AppUnavailable,
    Upstream,
)


class HttpForwarder:
    """One client connection: requests forwarded one by one; an upgrade becomes a bridge."""

    def __init__(
        self, proxy: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.client = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else ""
        self.scheme = "https" if writer.get_extra_info("sslcontext") else "http"
        self.event_stream = False  # the response being forwarded is text/event-stream

    async def _next_client_event(self) -> object:
        while True:
            event = self.client.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.client.receive_data(await self.reader.read(READ_CHUNK))

    def _write(self, event: h11.Request | h11.Response | h11.Data | h11.EndOfMessage) -> None:
        data = self.client.send(event)
        if data:
            self.writer.write(data)

    async def run(self) -> None:
        try:
            await self._serve_requests()
        except h11.RemoteProtocolError as exc:
            if self.client.our_state in (h11.IDLE, h11.SEND_RESPONSE):  # nothing sent yet
                body = f"VelociPy dev server: bad HTTP request: {exc}\n".encode()
                self.writer.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )
                await self.writer.drain()

    async def _serve_requests(self) -> None:
        while True:
            event = await self._next_client_event()
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed, or the client stopped between requests
            headers = [(name.lower(), value) for name, value in event.headers.raw_items()]
            if _is_websocket_upgrade(event.method, headers):
                data, _ = self.client.trailing_data
                await WebSocketBridge(self.proxy, self.reader, self.writer).run(
                    _request_head(event), data
                )
                return
            await self._forward(event, headers)
            if self.client.our_state is not h11.DONE or self.client.their_state is not h11.DONE:
                return
            self.client.start_next_cycle()

    async def _forward(self, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> None:
        upstream_headers = [
            (name, value) for name, value in headers if name.decode() not in HOP_HEADERS
        ]
        upstream_headers += [
            (b"host", dict(headers).get(b"host", b"localhost")),
            (b"x-forwarded-for", self.peer.encode()),
            (b"x-forwarded-proto", self.scheme.encode()),
            (b"connection", b"close"),
        ]
        if any(name == b"content-length" for name, _ in headers):
            pass
        elif any(name == b"transfer-encoding" for name, _ in headers):
            upstream_headers.append((b"transfer-encoding", b"chunked"))
        may_retry = request.method in RETRYABLE_METHODS and not any(
            name in (b"content-length", b"transfer-encoding") for name, _ in headers
        )
        outgoing = h11.Request(
            method=request.method, target=request.target, headers=upstream_headers
        )
        while True:
            try:
                generation = await self.proxy.wait_for_worker()
            except AppUnavailable as exc:
                self._answer_plain(503, f"VelociPy dev server: {exc}; save again to retry.\n")
                return
            answered = await self._exchange(outgoing, generation, may_retry)
            if answered or not may_retry:
                if not answered:
                    self._answer_plain(502, "VelociPy dev server: the app closed the request.\n")
                return
            await asyncio.sleep(0.01)  # the worker died under this request: ask the next one

    async def _exchange(self, outgoing: h11.Request, generation: int, may_retry: bool) -> bool:
        """Send one request to the worker of ``generation``, stream the answer; False if none.

        Until its answer begins the request counts as unanswered, so a restart lets that worker
        finish it (a bounded wait). One the worker still leaves unanswered when it is stopped is
        given up if ``may_retry``, to be sent to the new worker.
        """
        self.proxy.unanswered += 1
        upstream = h11.Connection(h11.CLIENT)
        upload: asyncio.Task[None] | None = None
        up_writer: asyncio.StreamWriter | None = None
        answered = False
        try:
            up_reader, up_writer = await self.proxy.open_upstream()
            up_writer.write(upstream.send(outgoing) or b"")
            upload = asyncio.create_task(self._upload(upstream, up_writer))
            while True:
                event = upstream.next_event()
                if event is h11.NEED_DATA:
                    data: bytes | None
                    if answered or not may_retry:
                        data = await up_reader.read(READ_CHUNK)
                    else:
                        data = await self._read_head_part(up_reader, generation)
                    if data is None:
                        return False  # its worker is being replaced: ask the next one
                    upstream.receive_data(data)
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue: h11 on our side answers the client itself
                if isinstance(event, h11.Response):
                    answered = True
                    self.proxy.unanswered -= 1
                    content_type = dict(event.headers).get(b"content-type", b"")
                    self.event_stream = content_type.startswith(b"text/event-stream")
                    headers = [
                        (name, value)
                        for name, value in event.headers.raw_items()
                        if name.lower() not in (b"connection", b"keep-alive")
                    ]
                    self._write(
                        h11.Response(
                            status_code=event.status_code, headers=headers, reason=event.reason
                        )
                    )
                elif isinstance(event, h11.Data):
                    self._write(h11.Data(data=event.data))
                    await self.writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    self._write(h11.EndOfMessage())
                    await self.writer.drain()
                    return True
                else:  # ConnectionClosed before the end
                    return self._cut_short(answered)
        except (OSError, h11.RemoteProtocolError):
            return self._cut_short(answered)
        finally:
            if not answered:
                self.proxy.unanswered -= 1
            if upload is not None and not upload.done():
                upload.cancel()
            if up_writer is not None:
                up_writer.close()

    def _cut_short(self, answered: bool) -> bool:
        """The worker went away mid-exchange: False (retry) if nothing was answered yet.

        An event stream then ends cleanly (an event stream has no "complete": the client
        reconnects with ``Last-Event-ID``); any other response is cut, so the client sees it
        is incomplete.
        """
        if not answered:
            return False
        if self.event_stream and self.client.our_state is h11.SEND_BODY:
            self._write(h11.EndOfMessage())
            return True
        raise ConnectionResetError("the app closed the response early")

    async def _read_head_part(
        self, up_reader: asyncio.StreamReader, generation: int
    ) -> bytes | None:
        """The next bytes of a response head, or None once its worker is being stopped."""
        while self.proxy.retired < generation:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(up_reader.read(READ_CHUNK), HEAD_POLL_SECONDS)
        return None

    async def _upload(self, upstream: h11.Connection, up_writer: asyncio.StreamWriter) -> None:
        """Stream the client's request body to the worker as it arrives."""
        while True:
            event = await self._next_client_event()
            if isinstance(event, h11.Data):
                up_writer.write(upstream.send(event) or b"")
                await up_writer.drain()
            elif isinstance(event, h11.EndOfMessage):
                up_writer.write(upstream.send(h11.EndOfMessage()) or b"")
                return
            else:
                return

    def _answer_plain(self, status: int, text: str) -> None:
        body = text.encode()
        self._write(
            h11.Response(
                status_code=status,
                headers=[
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", b"1"),
                    (b"connection", b"close"),
                ],
            )
        )
        self._write(h11.Data(data=body))
        self._write(h11.EndOfMessage())


def _is_websocket_upgrade(method: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    if method != b"GET":
        return False
    values = {name: value.lower() for name, value in headers}
    return b"websocket" in values.get(b"upgrade", b"") and b"upgrade" in values.get(
        b"connection", b""
    )


def _request_head(request: h11.Request) -> bytes:
    lines = [b"GET " + request.target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in request.headers.raw_items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"
