"""What every observability feature shares: the instrument hook and what it reads.

An instrument is added with ``app.add_instrument(...)`` and wraps the app's two entry points
(``handle_http``, ``handle_websocket``) once, at registration: an app without instruments runs
the bare dispatchers, so a feature that is off costs nothing. Everything here reads the neutral
``Request``/``Response``/``WebSocket``, so the same code serves ASGI and RSGI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket, WebSocketState

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = [
    "HTTPHandler",
    "Instrument",
    "WebSocketHandler",
    "WebSocketRecord",
    "client_text",
    "http_route",
    "watch_websocket",
    "websocket_route",
    "when_sent",
]

HTTPHandler = Callable[[Request], Awaitable[Response]]
WebSocketHandler = Callable[[WebSocket], Awaitable[None]]


class Instrument:
    """Base of the observability features: ``install`` (routes, settings), then the wrappers.

    A subclass overrides what it watches; the defaults hand back what they are given, so an
    instrument that only adds routes (health checks) adds no frame to a request.
    """

    app: Application

    def install(self, app: Application) -> None:
        self.app = app

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        return handle_http

    def wrap_websocket(self, handle_websocket: WebSocketHandler) -> WebSocketHandler:
        return handle_websocket


def http_route(app: Application, request: Request) -> str | None:
    """The template of the route ``request`` matched (``/items/{item_id}``); None for a 404."""
    table = app._http
    entry = table.static.get(request.path)
    if entry is None:
        found = table.match_params(request.path)
        if found is None:
            return None
        entry = found[0]
    return entry.pattern.template


def websocket_route(app: Application, websocket: WebSocket) -> str | None:
    found = app._websockets.match(websocket.path)
    return None if found is None else found[0].pattern.template


def client_text(connection: Connection) -> str:
    client = connection.client
    if client is None:
        return "-"
    return f"{client.host}:{client.port}" if client.port else client.host


# --- when the response is sent -----------------------------------------------------------
# id(response) -> (the response, its watchers): the response is held so that its id cannot be
# reused while the entry exists. A stream whose body is never asked for (a server that failed
# before its first chunk) leaves its entry: the oldest go beyond _MAX_PENDING_STREAMS.
_stream_watchers: dict[int, tuple[Response, list[Callable[[int], None]]]] = {}
_stream_variants: dict[type[Response], type[Response]] = {}
_MAX_PENDING_STREAMS = 10_000


def when_sent(request: Request, response: Response, done: Callable[[int], None]) -> None:
    """Call ``done(body bytes)`` once ``response`` is sent: now for bytes and files (their size
    is known), at the end of the body for a stream (also when the client leaves mid-way)."""
    if request.method == "HEAD":
        done(0)
        return
    kind = response.kind
    if kind == "bytes":
        done(len(response.body))
    elif kind == "file":
        done(response.content_length)  # type: ignore[attr-defined]
    else:
        pending = _stream_watchers.get(id(response))
        if pending is not None and pending[0] is response:
            pending[1].append(done)
            return
        if len(_stream_watchers) >= _MAX_PENDING_STREAMS:
            del _stream_watchers[next(iter(_stream_watchers))]
        _stream_watchers[id(response)] = (response, [done])
        response.__class__ = _counting_variant(type(response))


def _counting_variant(cls: type[Response]) -> type[Response]:
    """``cls`` whose body counts its bytes and reports them when it ends (made once a class)."""
    variant = _stream_variants.get(cls)
    if variant is None:

        def chunks(self: Any) -> AsyncIterator[bytes]:
            pending = _stream_watchers.pop(id(self), None)
            watchers = pending[1] if pending is not None and pending[0] is self else []
            return _counted(cls.chunks(self), watchers)  # type: ignore[attr-defined]

        namespace = {"__slots__": (), "chunks": chunks}
        variant = _stream_variants[cls] = type(cls.__name__, (cls,), namespace)
    return variant


async def _counted(
    chunks: AsyncIterator[bytes], watchers: Sequence[Callable[[int], None]]
) -> AsyncIterator[bytes]:
    sent = 0
    try:
        async for chunk in chunks:
            sent += len(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
        for done in watchers:
            done(sent)


# --- what a WebSocket did ----------------------------------------------------------------
class WebSocketRecord:
    """Counts and the outcome of one WebSocket connection, kept while an instrument watches it.

    ``status`` is the handshake's answer (101, or the refusal's status: 403 for a close before
    accept); ``close_code`` how the connection ended (the code sent, or the client's).
    """

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "close_code",
        "listeners",
        "messages_in",
        "messages_out",
        "refused",
    )

    def __init__(self) -> None:
        self.messages_in = self.messages_out = self.bytes_in = self.bytes_out = 0
        self.close_code: int | None = None
        self.refused: int | None = None
        # called with ("in" | "out", size) for every message: only for instruments that ask
        self.listeners: list[Callable[[str, int], None]] = []

    def outcome(self, websocket: WebSocket) -> tuple[int, int | None]:
        """``(status, close_code)``: a refused handshake has no close code."""
        if self.refused is not None or not websocket.accepted:
            return (self.refused or 403), None
        code = self.close_code
        if code is None and websocket._disconnect is not None:
            code = websocket._disconnect[0]
        return 101, code


_CONNECTED = WebSocketState.CONNECTED
_records: dict[int, WebSocketRecord] = {}
_websocket_variants: dict[type[WebSocket], type[WebSocket]] = {}


def watch_websocket(websocket: WebSocket) -> tuple[WebSocketRecord, bool]:
    """The record of ``websocket`` and whether this call made it (its maker forgets it)."""
    record = _records.get(id(websocket))
    if record is not None:
        return record, False
    record = _records[id(websocket)] = WebSocketRecord()
    websocket.__class__ = _watched_variant(type(websocket))
    return record, True


def forget_websocket(websocket: WebSocket) -> None:
    _records.pop(id(websocket), None)


def _size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def _watched_variant(cls: type[WebSocket]) -> type[WebSocket]:
    variant = _websocket_variants.get(cls)
    if variant is not None:
        return variant

    class Watched(cls):  # type: ignore[valid-type,misc]
        __slots__ = ()

        def _transport_data(self, message: Any) -> str | bytes:
            data: str | bytes = super()._transport_data(message)
            record = _records.get(id(self))
            if record is not None:
                size = _size(data)
                record.messages_in += 1
                record.bytes_in += size
                for listener in record.listeners:
                    listener("in", size)
            return data

        def send(self, data: str | bytes) -> Awaitable[None]:
            record = _records.get(id(self))
            if record is not None and self.connection_state is _CONNECTED:
                size = _size(data)
                record.messages_out += 1
                record.bytes_out += size
                for listener in record.listeners:
                    listener("out", size)
            return super().send(data)  # type: ignore[no-any-return]

        async def _transport_close(self, code: int, reason: str) -> None:
            record = _records.get(id(self))
            if record is not None:
                record.close_code = code
            await super()._transport_close(code, reason)

        async def _transport_reject(
            self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
        ) -> None:
            record = _records.get(id(self))
            if record is not None:
                record.refused = status
            await super()._transport_reject(status, headers, body)

    Watched.__name__ = Watched.__qualname__ = cls.__name__
    _websocket_variants[cls] = Watched
    return Watched
