"""One client WebSocket of the dev proxy, carried across worker restarts (docs/dev-proxy.md).

The client end speaks websockets' own Sans-I/O protocol (so the proxy reads the client only
when it can deliver); each upstream is a ``websockets`` client connection to the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from velocipy_cli.dev.upstream import (
    CONNECTION_HEADER,
    HOP_HEADERS,
    READ_CHUNK,
    RESUMED_HEADER,
    RETRY_SECONDS,
    WAIT_SECONDS,
    AppUnavailable,
    ResumeRefused,
    Upstream,
)


class WebSocketBridge:
    """One client WebSocket, carried across as many upstream connections as restarts need."""

    def __init__(
        self, proxy: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.subprotocol: Subprotocol | None = None
        self.protocol = ServerProtocol(
            select_subprotocol=lambda _protocol, _offered: self.subprotocol, max_size=None
        )
        self.upstream: ClientConnection | None = None
        self.upstream_generation = 0
        self.resumes = 0
        self.client_closed = False
        self.connection_id = uuid.uuid4().hex

    async def run(self, head: bytes, rest: bytes) -> None:
        self.protocol.receive_data(head + rest)
        events = self.protocol.events_received()
        request = events[0]
        assert isinstance(request, Request)
        self.request = request
        try:
            self.upstream_generation = await self.proxy.wait_for_worker()
            self.upstream = await self._connect(resumed=False)
        except InvalidStatus as exc:  # the app (or the 503 responder) refused: tell the client
            self.protocol.send_response(_copy_response(exc.response))
            self._flush()
            return
        except (AppUnavailable, InvalidHandshake, OSError) as exc:
            self.protocol.send_response(self.protocol.reject(502, f"VelociPy dev server: {exc}\n"))
            self._flush()
            return
        self.subprotocol = self.upstream.subprotocol
        self.protocol.send_response(self.protocol.accept(request))
        self._flush()
        pending: list[object] = list(events[1:])
        downstream = asyncio.create_task(self._upstream_to_client())
        try:
            await self._client_to_upstream(pending)
        finally:
            self.proxy.awaiting_reply.discard(self)
            downstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await downstream
            if self.upstream is not None:
                with contextlib.suppress(Exception):
                    await self.upstream.close()

    async def _connect(self, *, resumed: bool) -> ClientConnection:
        host, port = self.proxy.upstream
        headers = [
            (name, value)
            for name, value in self.request.headers.raw_items()
            if name.lower() not in HOP_HEADERS and name.lower() != "user-agent"
        ]
        headers.append(("X-Forwarded-For", self._peer()))
        secure = self.writer.get_extra_info("sslcontext") is not None
        headers.append(("X-Forwarded-Proto", "https" if secure else "http"))
        headers.append((CONNECTION_HEADER, self.connection_id))
        if resumed:
            headers.append((RESUMED_HEADER, str(self.resumes)))
        offered = [
            Subprotocol(part.strip())
            for value in self.request.headers.get_all("Sec-WebSocket-Protocol")
            for part in value.split(",")
            if part.strip()
        ]
        # The app sees the client's own Host (an origin guard compares it with Origin): the URL
        # carries it, and host/port only choose where the TCP connection goes.
        client_host = self.request.headers.get("Host") or f"{host}:{port}"
        return await connect(
            f"ws://{client_host}{self.request.path}",
            host=host,
            port=port,
            additional_headers=headers,
            user_agent_header=self.request.headers.get("User-Agent"),
            subprotocols=offered or None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=WAIT_SECONDS,
            proxy=None,
        )

    def _peer(self) -> str:
        peer = self.writer.get_extra_info("peername")
        return str(peer[0]) if isinstance(peer, tuple) else ""

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof():
                with contextlib.suppress(OSError):
                    self.writer.write_eof()

    # Client -> worker: one reader, so order is kept; waits (and stops reading) during a gap.

    async def _client_to_upstream(self, pending: list[object]) -> None:
        parts: list[bytes] = []
        text = False
        while True:
            for event in pending:
                if not isinstance(event, Frame):
                    continue
                if event.opcode is Opcode.CLOSE:
                    self.client_closed = True
                    self._flush()  # websockets answered the close frame
                    await self._close_upstream()
                    return
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    text = event.opcode is Opcode.TEXT
                    parts = []
                if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    parts.append(bytes(event.data))
                    if event.fin:
                        payload = b"".join(parts)
                        await self._deliver(payload.decode() if text else payload)
            self._flush()  # pongs
            await self.writer.drain()
            data = await self.reader.read(READ_CHUNK)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
                self.client_closed = True
                await self._close_upstream()
                return
            pending = list(self.protocol.events_received())

    async def _deliver(self, message: str | bytes) -> None:
        while True:
            await self.proxy.wait_for_worker()
            upstream = self.upstream
            if upstream is not None and self.upstream_generation == self.proxy.generation:
                try:
                    await upstream.send(message)
                    self.proxy.last_activity = time.monotonic()
                    self.proxy.awaiting_reply.add(self)  # until the worker sends on this socket
                    return
                except ConnectionClosed:
                    pass
            await asyncio.sleep(0.005)  # the other task is opening the next upstream

    async def _close_upstream(self) -> None:
        close = self.protocol.close_rcvd
        if self.upstream is not None:
            code = close.code if close is not None and close.code not in (1005, 1006) else 1000
            with contextlib.suppress(Exception):
                await self.upstream.close(code, close.reason if close is not None else "")

    # Worker -> client; a worker that goes away because of a restart is replaced.

    async def _upstream_to_client(self) -> None:
        while True:
            upstream = self.upstream
            assert upstream is not None
            try:
                while True:
                    message = await upstream.recv()
                    self.proxy.last_activity = time.monotonic()
                    self.proxy.awaiting_reply.discard(self)
                    if isinstance(message, str):
                        self.protocol.send_text(message.encode())
                    else:
                        self.protocol.send_binary(message)
                    self._flush()
                    await self.writer.drain()
            except ConnectionClosed:
                pass
            if self.client_closed:
                return
            restarted = self.upstream_generation != self.proxy.generation
            close = upstream.protocol.close_rcvd
            if not restarted and close is not None:  # the app closed it: so does the client
                self._close_client(close.code, close.reason)
                return
            try:
                await self._resume()
            except AppUnavailable as exc:
                self._close_client(1012 if isinstance(exc, ResumeRefused) else 1011, str(exc))
                return

    async def _resume(self) -> None:
        """Open the next upstream WebSocket, retrying while the app is broken (bounded)."""
        deadline = time.monotonic() + self.proxy.resume_deadline
        last = "the app did not come back"
        while time.monotonic() < deadline:
            generation = await self.proxy.wait_for_worker()
            self.resumes += 1
            try:
                upstream = await self._connect(resumed=True)
            except InvalidStatus as exc:
                self.resumes -= 1
                last = f"the app answered {exc.response.status_code} to the resumed connection"
                if exc.response.status_code != 503:
                    raise ResumeRefused(last) from None
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except (InvalidHandshake, OSError, TimeoutError):
                self.resumes -= 1
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if upstream.subprotocol != self.subprotocol:
                await upstream.close()
                raise AppUnavailable(
                    f"the new code chose subprotocol {upstream.subprotocol!r}, "
                    f"not {self.subprotocol!r}"
                )
            self.upstream, self.upstream_generation = upstream, generation
            self.proxy.awaiting_reply.discard(self)  # what the old worker left unanswered is gone
            return
        raise AppUnavailable(f"{last} within {self.proxy.resume_deadline:.0f} s"[:120])

    def _close_client(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            if code == 1005:  # the app's close frame had no code (granian RSGI): neither has ours
                self.protocol.send_close()
            else:
                self.protocol.send_close(code, reason.encode()[:120].decode(errors="ignore"))
            self._flush()


def _copy_response(response: Response) -> Response:
    headers = Headers(
        (name, value)
        for name, value in response.headers.raw_items()
        if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")
    )
    headers["Content-Length"] = str(len(response.body))
    return Response(response.status_code, response.reason_phrase, headers, response.body)
