"""Stand-ins for granian's RSGI objects that behave like granian 2.8.7, quirks included.

What each object does, and why, is documented in design/rsgi.md sections 1.2-2.2 (frozen
attribute-only scopes, lower-case RSGIHeaders that drop non-ASCII values, a single-shot body,
synchronous ``response_*`` calls of which only the first counts, worker-killing statuses, a stream
that ends when its transport is released, WebSocket ``accept()`` without arguments, no close codes).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import RSGIProtocolClosed, RSGIProtocolError, WorkerCrash
from .messages import Accepted, ClientClose, Closed, Denied, Message
from .websocket import WebSocketChannel

RSGI_VERSION = "1.6"
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _visible_ascii(value: str) -> bool:
    return all(char == "\t" or " " <= char <= "~" for char in value)


class RSGIHeaders:
    """Read-only request headers like ``granian._granian.RSGIHeaders``.

    Names are lower-case and lookups case-insensitive. A value that is not visible ASCII is
    invisible to ``get``/``get_all``/``values``/``items`` (``h[name]`` gives ``""``) while its
    name still shows in ``keys()``, exactly as granian does.
    """

    __slots__ = ("_items",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._items: list[tuple[str, str | None]] = [
            (name.lower(), value if _visible_ascii(value) else None) for name, value in pairs
        ]

    def get(self, key: str, default: Any = None) -> Any:
        name = key.lower()
        for item_name, value in self._items:
            if item_name == name:
                return default if value is None else value
        return default

    def get_all(self, key: str) -> list[str]:
        name = key.lower()
        return [v for n, v in self._items if n == name and v is not None]

    def __getitem__(self, key: str) -> str:
        name = key.lower()
        for item_name, value in self._items:
            if item_name == name:
                return "" if value is None else value
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and any(n == key.lower() for n, _ in self._items)

    def keys(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self._items))

    def values(self) -> list[str]:
        return [value for _, value in self._items if value is not None]

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in self._items if value is not None]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())


@dataclass(frozen=True, slots=True)
class _RSGIScope:
    """What granian's two scope classes share: attributes only, frozen."""

    proto: str
    rsgi_version: str
    http_version: str
    server: str
    client: str
    scheme: str
    method: str
    path: str
    query_string: str
    authority: str | None
    headers: RSGIHeaders


@dataclass(frozen=True, slots=True)
class RSGIHTTPScope(_RSGIScope):
    """``scope`` for ``proto == "http"``."""


@dataclass(frozen=True, slots=True)
class RSGIWebsocketScope(_RSGIScope):
    """``scope`` for ``proto == "ws"``; the scheme is ``"http"``/``"https"`` as in granian."""


class CrashLatch:
    """Remembers that the app made a worker-killing call, even if the app swallowed the error."""

    def __init__(self) -> None:
        self.crash: WorkerCrash | None = None
        self.event = asyncio.Event()

    def crash_now(self, message: str) -> WorkerCrash:
        crash = WorkerCrash(f"granian worker would die here: {message}")
        if self.crash is None:
            self.crash = crash
            self.event.set()
        return crash


# Argument checks that granian's Rust binding (pyo3) performs on every call.


def check_status(status: object) -> int:
    if not isinstance(status, int):
        raise TypeError(f"'{type(status).__name__}' object cannot be interpreted as an integer")
    if status < 0:
        raise OverflowError("number too small to fit in target type")
    if status > 0xFFFF:
        raise OverflowError("number too large to fit in target type")
    return status


def check_headers(headers: object) -> list[tuple[str, str]]:
    if isinstance(headers, str) or not isinstance(headers, list | tuple):
        raise TypeError(f"'{type(headers).__name__}' object cannot be converted to 'Sequence'")
    checked: list[tuple[str, str]] = []
    for item in headers:
        if not isinstance(item, tuple):
            raise TypeError(f"'{type(item).__name__}' object is not an instance of 'tuple'")
        if len(item) != 2:
            raise ValueError(f"expected tuple of length 2, but got tuple of length {len(item)}")
        for part in item:
            if not isinstance(part, str):
                raise TypeError(f"'{type(part).__name__}' object is not an instance of 'str'")
        checked.append((item[0], item[1]))
    return checked


def check_u64(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    return value


def check_bytes(data: object) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"'{type(data).__name__}' object cannot be converted to 'PyBytes'")
    return bytes(data)


def check_str(data: object) -> str:
    if not isinstance(data, str):
        raise TypeError(f"'{type(data).__name__}' object cannot be converted to 'PyString'")
    return data


def wire_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What reaches the client: names lower-cased, invalid names or values silently dropped."""
    sent = []
    for name, value in headers:
        lowered = name.lower()
        if not lowered or not set(lowered) <= _TOKEN_CHARS:
            continue
        if any(char in value for char in "\r\n\0"):
            continue
        sent.append((lowered, value))
    return sent


class HTTPExchange:
    """The server side of one HTTP request: what the app sent, and whether the response ended."""

    def __init__(self, body: list[bytes], latch: CrashLatch) -> None:
        self.body = body
        self.latch = latch
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.parts: list[bytes] = []
        self.stream_released = asyncio.Event()
        self.streaming = False
        self.connection_closed = asyncio.Event()  # the test client hangs up after each response

    @property
    def responded(self) -> bool:
        return self.status is not None

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        if not 100 <= status <= 999:
            raise self.latch.crash_now(f"response status {status} is outside 100-999")
        self.status = status
        self.headers = wire_headers(headers)
        if body is not None:
            self.parts.append(body)
            if not any(name == "content-length" for name, _ in self.headers):
                self.headers.append(("content-length", str(len(body))))
            self.connection_closed.set()

    def end_stream(self) -> None:
        self.stream_released.set()
        self.connection_closed.set()


def _end_stream_threadsafe(loop: asyncio.AbstractEventLoop, exchange: HTTPExchange) -> None:
    """End the stream from whatever thread released the transport (if its loop still lives)."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(exchange.end_stream)


class HTTPStreamTransport:
    """``RSGIHTTPStreamTransport``: the stream ends when this object is released, not before."""

    __slots__ = ("__weakref__", "_exchange")

    def __init__(self, exchange: HTTPExchange) -> None:
        self._exchange = exchange
        finalizer = weakref.finalize(
            self, _end_stream_threadsafe, asyncio.get_running_loop(), exchange
        )
        finalizer.atexit = False

    async def send_bytes(self, data: bytes) -> None:
        chunk = check_bytes(data)
        if self._exchange.connection_closed.is_set():
            raise RSGIProtocolClosed()
        self._exchange.parts.append(chunk)

    async def send_str(self, data: str) -> None:
        chunk = check_str(data).encode()
        if self._exchange.connection_closed.is_set():
            raise RSGIProtocolClosed()
        self._exchange.parts.append(chunk)


class HTTPProtocol:
    """``RSGIHTTPProtocol``: a single-shot request body and synchronous response calls."""

    def __init__(self, exchange: HTTPExchange) -> None:
        self._exchange = exchange
        self._body_taken = False
        self._chunks: Iterator[bytes] | None = None

    def _take_body(self) -> list[bytes]:
        if self._body_taken:
            raise RSGIProtocolError()
        self._body_taken = True
        return self._exchange.body

    async def __call__(self) -> bytes:
        body = self._take_body()
        await asyncio.sleep(0)
        return b"".join(body)

    def __aiter__(self) -> HTTPProtocol:
        self._chunks = iter([*self._take_body(), b""])  # granian ends every body with b""
        return self

    async def __anext__(self) -> bytes:
        if self._chunks is None:
            raise StopAsyncIteration("stream exhausted")
        chunk = next(self._chunks, None)
        if chunk is None:
            self._chunks = None
            raise StopAsyncIteration("stream exhausted")
        await asyncio.sleep(0)
        return chunk

    async def client_disconnect(self) -> None:
        await self._exchange.connection_closed.wait()

    def response_empty(self, status: int = 200, headers: Any = ()) -> None:
        checked_status, checked_headers = check_status(status), check_headers(headers)
        if not self._exchange.responded:
            self._exchange.respond(checked_status, checked_headers, b"")

    def response_str(self, status: int = 200, headers: Any = (), body: str = "") -> None:
        checked_status, checked_headers = check_status(status), check_headers(headers)
        data = check_str(body).encode()
        if not self._exchange.responded:
            self._exchange.respond(checked_status, checked_headers, data)

    def response_bytes(self, status: int = 200, headers: Any = (), body: bytes = b"") -> None:
        checked_status, checked_headers = check_status(status), check_headers(headers)
        data = check_bytes(body)
        if not self._exchange.responded:
            self._exchange.respond(checked_status, checked_headers, data)

    def response_file(self, status: int, headers: Any, file: str) -> None:
        self._file(status, headers, file, 0, None)

    def response_file_range(
        self, status: int, headers: Any, file: str, start: int, end: int
    ) -> None:
        if check_u64(start) >= check_u64(end):
            raise ValueError("Invalid range")
        self._file(status, headers, file, start, end)

    def _file(self, status: int, headers: Any, file: str, start: int, end: int | None) -> None:
        checked_status, checked_headers = check_status(status), check_headers(headers)
        path = check_str(file)
        if self._exchange.responded:
            return
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read() if end is None else handle.read(end - start)
        except OSError:  # granian answers a file it cannot open with its own 404
            self._exchange.respond(404, [], b"Not found")
            return
        self._exchange.respond(checked_status, checked_headers, None)
        self._exchange.parts.append(data)
        self._exchange.connection_closed.set()

    def response_stream(self, status: int = 200, headers: Any = ()) -> HTTPStreamTransport:
        checked_status, checked_headers = check_status(status), check_headers(headers)
        if self._exchange.responded:
            raise RSGIProtocolError()
        self._exchange.respond(checked_status, checked_headers, None)
        self._exchange.streaming = True
        return HTTPStreamTransport(self._exchange)


# WebSocket


class WebsocketInboundCloseMessage:
    """``kind == 0``; there is deliberately no ``data`` attribute."""

    __slots__ = ()
    kind = 0


class WebsocketInboundBytesMessage:
    __slots__ = ("data",)
    kind = 1

    def __init__(self, data: bytes) -> None:
        self.data = data


class WebsocketInboundTextMessage:
    __slots__ = ("data",)
    kind = 2

    def __init__(self, data: str) -> None:
        self.data = data


WebsocketMessage = (
    WebsocketInboundCloseMessage | WebsocketInboundBytesMessage | WebsocketInboundTextMessage
)


class WebsocketTransport:
    """``RSGIWebsocketTransport``: one reader at a time, no close codes in either direction."""

    def __init__(self, protocol: WebsocketProtocol) -> None:
        self._protocol = protocol
        self._reading = False
        self._ended = False

    async def receive(self) -> WebsocketMessage:
        if self._reading:
            raise RSGIProtocolError()
        if self._ended:
            raise RSGIProtocolClosed()
        self._reading = True
        try:
            event = await self._protocol.channel.next_from_client()
        finally:
            self._reading = False
        if isinstance(event, ClientClose):
            self._ended = True
            return WebsocketInboundCloseMessage()
        if isinstance(event.data, str):
            return WebsocketInboundTextMessage(event.data)
        return WebsocketInboundBytesMessage(event.data)

    async def send_bytes(self, data: bytes) -> None:
        self._send(check_bytes(data))

    async def send_str(self, data: str) -> None:
        self._send(check_str(data))

    def _send(self, data: str | bytes) -> None:
        if self._protocol.closed:
            raise RSGIProtocolError()
        if self._protocol.channel.client_closed:
            raise RSGIProtocolClosed()
        self._protocol.channel.emit(Message(data))


class WebsocketProtocol:
    """``RSGIWebsocketProtocol``: ``accept()`` takes no arguments, ``close(status)`` is sync."""

    def __init__(self, channel: WebSocketChannel, latch: CrashLatch) -> None:
        self.channel = channel
        self.latch = latch
        self.accepted = False
        self.closed = False
        self.transport: weakref.ref[WebsocketTransport] | None = None

    async def accept(self) -> WebsocketTransport:
        if self.accepted:
            raise self.latch.crash_now("WebSocket accept() called twice")
        if self.closed:
            raise RSGIProtocolError()
        self.accepted = True
        await asyncio.sleep(0)
        self.channel.emit(Accepted(subprotocol=None, headers=[]))
        transport = WebsocketTransport(self)
        self.transport = weakref.ref(transport)  # granian finishes once the app releases it
        return transport

    @property
    def transport_released(self) -> bool:
        return self.transport is None or self.transport() is None

    def close(self, status: int | None = None) -> None:
        if status is not None and not isinstance(status, int):
            raise TypeError(f"'{type(status).__name__}' object cannot be interpreted as an integer")
        if self.closed:
            return
        if not self.accepted:
            code = 403 if status is None else status
            if not 100 <= code <= 999:
                raise self.latch.crash_now(
                    f"WebSocket close({status}) before accept: {status} is not an HTTP status"
                )
            self.closed = True
            self.channel.emit(Denied(code))
            return
        self.closed = True  # after accept the status is ignored: the client sees 1005
        self.channel.emit(Closed(1005, ""))
        self.channel.echo_close(ClientClose(1005, ""))


__all__ = [
    "RSGI_VERSION",
    "CrashLatch",
    "HTTPExchange",
    "HTTPProtocol",
    "HTTPStreamTransport",
    "RSGIHTTPScope",
    "RSGIHeaders",
    "RSGIWebsocketScope",
    "WebsocketInboundBytesMessage",
    "WebsocketInboundCloseMessage",
    "WebsocketInboundTextMessage",
    "WebsocketProtocol",
    "WebsocketTransport",
]
