"""The reload-mode proxy: clients stay connected while the app's worker restarts.

The supervisor owns the public socket; in reload mode the worker serves an internal loopback
socket and this proxy, in a thread of the supervisor, forwards between the two:

- HTTP requests are forwarded with h11, bodies streamed both ways. While a worker restarts
  they wait (the supervisor holds the gate, :data:`WAIT_SECONDS` at most); a GET/HEAD/OPTIONS
  whose worker died before answering is sent again to the new one.
- WebSocket clients speak to websockets' own protocol here and to a ``websockets`` client
  connection upstream. When the worker restarts, the proxy opens a new upstream WebSocket with
  the same path, query, headers and subprotocols (plus ``X-VelociPy-Resumed: N``; every
  upstream of one client carries the same ``X-VelociPy-Connection`` id) and then
  delivers the messages the client sent meanwhile, in order. A broken app is retried until it
  is fixed or :data:`RESUME_DEADLINE_SECONDS` pass, then the client is closed with a reason.

Never imports the user's app (the supervisor's rule); the cost per message is measured in
docs/dev-proxy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterable, Mapping

import h11
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

WAIT_SECONDS = 30.0  # how long a request waits for a worker that is (re)starting
RESUME_DEADLINE_SECONDS = 60.0  # how long a WebSocket waits for a broken app to be fixed
RESUME_DEADLINE_VARIABLE = "VELOCIPY_PROXY_RESUME_SECONDS"  # overrides it (docs/dev-proxy.md)
RETRY_SECONDS = 0.2  # between two tries while the app answers 503 or refuses connections
DRAIN_QUIET_SECONDS = 0.03  # hold: the last forwarded message gets this long to be handled
DRAIN_MAX_SECONDS = 0.3
READ_CHUNK = 65536
HEAD_POLL_SECONDS = 0.05  # a retryable request notices a restart this fast while it waits
MAX_CLIENT_BUFFER = 1024 * 1024  # unread client bytes kept while the worker restarts
RESUMED_HEADER = "X-VelociPy-Resumed"  # on a resumed upstream: how many times so far
CONNECTION_HEADER = "X-VelociPy-Connection"  # the same id on every upstream of one client
RETRYABLE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
# Headers that describe one hop or one WebSocket handshake: never forwarded as they are.
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
WS_STATIC = frozenset({"connection", "upgrade", "sec-websocket-key", "sec-websocket-version"})


def resume_deadline_setting(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a resumed WebSocket waits for a broken app: $VELOCIPY_PROXY_RESUME_SECONDS."""
    try:
        value = float(environ.get(RESUME_DEADLINE_VARIABLE, RESUME_DEADLINE_SECONDS))
    except ValueError:
        return RESUME_DEADLINE_SECONDS
    return value if value > 0 else RESUME_DEADLINE_SECONDS


class AppUnavailable(Exception):
    """No worker came back in time; the message says what the client is told."""


class DevProxy:
    """Serves ``listener`` in its own thread and event loop, forwarding to ``upstream``."""

    def __init__(
        self,
        listener: socket.socket,
        upstream: tuple[str, int],
        *,
        ssl_context: ssl.SSLContext | None = None,
        resume_deadline: float | None = None,
    ) -> None:
        self.listener = listener
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.resume_deadline = resume_deadline or resume_deadline_setting()
        self.generation = 0  # bumped by hold(): upstream connections older than it are stale
        self.last_forward = 0.0
        self._loop = asyncio.new_event_loop()
        self._gate = asyncio.Event()  # set while a worker serves (or the 503 responder does)
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="velocipy-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # The supervisor's side (another thread).

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def hold(self) -> None:
        """Stop forwarding to the current worker and let it finish what it got; then it may go."""
        future = asyncio.run_coroutine_threadsafe(self._hold(), self._loop)
        with contextlib.suppress(Exception):
            future.result(DRAIN_MAX_SECONDS + 1)

    def release(self) -> None:
        """A worker (or the 503 responder) serves the internal socket: forward again."""
        self._loop.call_soon_threadsafe(self._gate.set)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(3)

    # The proxy's own thread.

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(
            self._on_client, sock=self.listener, ssl=self.ssl_context, limit=READ_CHUNK
        )
        self._started.set()
        await self._stopped.wait()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)

    def _shutdown(self) -> None:
        self._stopped.set()

    async def _hold(self) -> None:
        self.generation += 1
        self._gate.clear()
        deadline = time.monotonic() + DRAIN_MAX_SECONDS
        while time.monotonic() < deadline:
            if time.monotonic() - self.last_forward >= DRAIN_QUIET_SECONDS:
                return
            await asyncio.sleep(0.005)

    async def wait_for_worker(self) -> int:
        """The generation of the worker that serves now, once one does (bounded)."""
        try:
            await asyncio.wait_for(self._gate.wait(), WAIT_SECONDS)
        except TimeoutError:
            raise AppUnavailable(f"the app did not come back within {WAIT_SECONDS:.0f} s") from None
        return self.generation

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await HttpForwarder(self, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            pass  # the client went away or spoke nonsense: nothing to tell anyone
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.upstream
        return await asyncio.open_connection(host, port, limit=READ_CHUNK)


class HttpForwarder:
    """One client connection: requests forwarded one by one; an upgrade becomes a bridge."""

    def __init__(
        self, proxy: DevProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.client = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else ""
        self.scheme = "https" if writer.get_extra_info("sslcontext") else "http"

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
            answered = await self._exchange(outgoing, generation if may_retry else None)
            if answered or not may_retry:
                if not answered:
                    self._answer_plain(502, "VelociPy dev server: the app closed the request.\n")
                return
            await asyncio.sleep(0.01)  # the worker died under this request: ask the next one

    async def _exchange(self, outgoing: h11.Request, retry_after_restart: int | None) -> bool:
        """Send one request upstream and stream the answer; False if nothing came back.

        With ``retry_after_restart`` (the worker generation it went to), a request still
        unanswered when that worker is replaced is given up, to be sent to the new one.
        """
        try:
            up_reader, up_writer = await self.proxy.open_upstream()
        except OSError:
            return False
        upstream = h11.Connection(h11.CLIENT)
        upload: asyncio.Task[None] | None = None
        answered = False
        try:
            up_writer.write(upstream.send(outgoing) or b"")
            upload = asyncio.create_task(self._upload(upstream, up_writer))
            while True:
                event = upstream.next_event()
                if event is h11.NEED_DATA:
                    data: bytes | None
                    if answered or retry_after_restart is None:
                        data = await up_reader.read(READ_CHUNK)
                    else:
                        data = await self._read_head_part(up_reader, retry_after_restart)
                    if data is None:
                        return False  # its worker is being replaced: ask the next one
                    upstream.receive_data(data)
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue: h11 on our side answers the client itself
                if isinstance(event, h11.Response):
                    answered = True
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
                    if answered:
                        raise ConnectionResetError("the app closed the response early")
                    return False
        except (OSError, h11.RemoteProtocolError):
            if answered:
                raise ConnectionResetError("the app closed the response early") from None
            return False
        finally:
            if upload is not None and not upload.done():
                upload.cancel()
            up_writer.close()

    async def _read_head_part(
        self, up_reader: asyncio.StreamReader, generation: int
    ) -> bytes | None:
        """The next bytes of a response head, or None once the worker is being replaced."""
        while self.proxy.generation == generation:
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


class WebSocketBridge:
    """One client WebSocket, carried across as many upstream connections as restarts need."""

    def __init__(
        self, proxy: DevProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
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
        headers.append(("Host", self.request.headers.get("Host", f"{host}:{port}")))
        headers.append(("X-Forwarded-For", self._peer()))
        headers.append((CONNECTION_HEADER, self.connection_id))
        if resumed:
            headers.append((RESUMED_HEADER, str(self.resumes)))
        offered = [
            Subprotocol(part.strip())
            for value in self.request.headers.get_all("Sec-WebSocket-Protocol")
            for part in value.split(",")
            if part.strip()
        ]
        return await connect(
            f"ws://{host}:{port}{self.request.path}",
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
                    self.proxy.last_forward = time.monotonic()
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
                self._close_client(1011, str(exc))
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
                    raise AppUnavailable(last) from None
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
            return
        raise AppUnavailable(f"{last} within {self.proxy.resume_deadline:.0f} s"[:120])

    def _close_client(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            if code == 1005:  # the app's close frame had no code (granian RSGI): neither has ours
                self.protocol.send_close()
            else:
                self.protocol.send_close(code, reason.encode()[:120].decode(errors="ignore"))
            self._flush()


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


def _copy_response(response: Response) -> Response:
    headers = Headers(
        (name, value)
        for name, value in response.headers.raw_items()
        if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")
    )
    headers["Content-Length"] = str(len(response.body))
    return Response(response.status_code, response.reason_phrase, headers, response.body)
