"""Access lines (one per request, one per WebSocket connection) and request ids.

``RequestID`` reads ``X-Request-ID`` (or makes one), answers with it and keeps it in a context
variable for the handler and every log line of the request (:class:`RequestIDFilter`).
``AccessLog`` writes one line per request or connection, in text or JSON, the same on every
server: it reads the neutral request, response and WebSocket, never a server's own log.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

from velocipy.error_answers import loggable
from velocipy.observability.instrument import (
    HTTPHandler,
    Instrument,
    WebSocketHandler,
    client_text,
    forget_websocket,
    http_route,
    watch_websocket,
    websocket_route,
    when_sent,
)
from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["AccessLog", "RequestID", "RequestIDFilter", "current_request_id"]

_request_id: ContextVar[str | None] = ContextVar("velocipy_request_id", default=None)
_MAX_ID_LENGTH = 200


def current_request_id() -> str | None:
    """The id of the request (or WebSocket connection) being handled; None outside one."""
    return _request_id.get()


class RequestIDFilter(logging.Filter):
    """Adds ``record.request_id`` (``"-"`` outside a request): use ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


def _incoming_id(connection: Connection, header: str) -> str:
    """The client's id if it is a sensible one (printable ASCII, at most 200 characters)."""
    given = connection.headers.get(header)
    if given and len(given) <= _MAX_ID_LENGTH and given.isascii() and given.isprintable():
        return given
    return os.urandom(16).hex()  # PERF: what uuid4().hex is, without its UUID object


class RequestID(Instrument):
    """Every request gets an id: the client's ``X-Request-ID`` or a new one, sent back in the
    response header and readable with :func:`current_request_id` (also in WebSocket handlers)."""

    def __init__(self, header: str = "X-Request-ID") -> None:
        self.header = header.lower()

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        header = self.header

        async def with_request_id(request: Request) -> Response:
            request_id = _incoming_id(request, header)
            token = _request_id.set(request_id)
            try:
                response = await handle_http(request)
            finally:
                _request_id.reset(token)
            response.raw_headers.append((header, request_id))
            return response

        return with_request_id

    def wrap_websocket(self, handle_websocket: WebSocketHandler) -> WebSocketHandler:
        header = self.header

        async def with_request_id(websocket: WebSocket) -> None:
            token = _request_id.set(_incoming_id(websocket, header))
            try:
                await handle_websocket(websocket)
            finally:
                _request_id.reset(token)

        return with_request_id


def _default_logger() -> logging.Logger:
    """``velocipy.access`` with its own stderr handler (servers configure only their loggers)."""
    logger = logging.getLogger("velocipy.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class AccessLog(Instrument):
    """One line per request and per WebSocket connection, ``format="text"`` or ``"json"``.

    Fields: the client, method (``WS`` for a WebSocket), path, route template, status (a
    WebSocket: 101, or the refusal's status, 403 for a refused handshake), close code, body
    bytes (WebSocket: bytes and messages in and out), duration and request id. The line of a
    streamed response is written when its body ends, with the bytes really sent.
    """

    def __init__(
        self,
        format: Literal["text", "json"] = "text",
        *,
        logger: logging.Logger | None = None,
        request_id_header: str | None = "X-Request-ID",
    ) -> None:
        if format not in ("text", "json"):
            raise ValueError(f"AccessLog format must be 'text' or 'json', not {format!r}")
        self.format = format
        self.logger = logger or _default_logger()
        self.request_ids = RequestID(request_id_header) if request_id_header else None

    def install(self, app: Application) -> None:
        super().install(app)
        if self.request_ids is not None:
            self.request_ids.install(app)

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        app, write, clock = self.app, self._write, time.perf_counter

        def line(request: Request, status: int, size: int, start: float) -> None:
            write(
                {
                    "type": "http",
                    "client": client_text(request),
                    "method": request.method,
                    "path": request.path,
                    "route": http_route(app, request),
                    "status": status,
                    "bytes": size,
                    "duration_ms": round((clock() - start) * 1000, 3),
                    "request_id": _request_id.get(),
                }
            )

        async def logged(request: Request) -> Response:
            start = clock()
            try:
                response = await handle_http(request)
            except BaseException:  # debug mode re-raises: the server answers 500
                line(request, 500, 0, start)
                raise
            request_id = _request_id.get()

            def done(size: int) -> None:
                token = _request_id.set(request_id)  # a stream ends outside the request
                try:
                    line(request, response.status_code, size, start)
                finally:
                    _request_id.reset(token)

            when_sent(request, response, done)
            return response

        if self.request_ids is not None:  # the id is set outside, so the line can carry it
            return self.request_ids.wrap_http(logged)
        return logged

    def wrap_websocket(self, handle_websocket: WebSocketHandler) -> WebSocketHandler:
        app, write, clock = self.app, self._write, time.perf_counter

        async def logged(websocket: WebSocket) -> None:
            start = clock()
            record, made = watch_websocket(websocket)
            try:
                await handle_websocket(websocket)
            finally:
                status, close_code = record.outcome(websocket)
                write(
                    {
                        "type": "websocket",
                        "client": client_text(websocket),
                        "method": "WS",
                        "path": websocket.path,
                        "route": websocket_route(app, websocket),
                        "status": status,
                        "close_code": close_code,
                        "messages_in": record.messages_in,
                        "messages_out": record.messages_out,
                        "bytes_in": record.bytes_in,
                        "bytes_out": record.bytes_out,
                        "duration_ms": round((clock() - start) * 1000, 3),
                        "request_id": _request_id.get(),
                    }
                )
                if made:
                    forget_websocket(websocket)

        if self.request_ids is not None:
            return self.request_ids.wrap_websocket(logged)
        return logged

    def _write(self, fields: dict[str, Any]) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        if self.format == "json":
            line = self.app.json.encode(fields).decode()
        else:
            line = format_text(fields)
        # PERF: the record is made directly: logger.info() would also look for its caller's
        # frame (about a third of a logged line's cost), which says nothing about a request.
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "access", 0, line, (), None))


def format_text(fields: dict[str, Any]) -> str:
    """``client "METHOD path" route=... status [close=...] bytes duration id=...``."""
    parts = [
        fields["client"],
        f'"{fields["method"]} {loggable(fields["path"])}"',
        f"route={fields['route'] or '-'}",
        str(fields["status"]),
    ]
    if fields["type"] == "websocket":
        if fields["close_code"] is not None:
            parts.append(f"close={fields['close_code']}")
        parts.append(f"in={fields['messages_in']}/{fields['bytes_in']}B")
        parts.append(f"out={fields['messages_out']}/{fields['bytes_out']}B")
    else:
        parts.append(f"{fields['bytes']}B")
    parts.append(f"{fields['duration_ms']:.3f}ms")
    parts.append(f"id={fields['request_id'] or '-'}")
    return " ".join(parts)
