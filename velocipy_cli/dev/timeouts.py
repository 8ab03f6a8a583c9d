"""Bounds on slow clients for ``velocipy run --no-reload``: header time and body time.

A client that sends its request one byte at a time holds a connection (and, on uvicorn, its
memory) for as long as it likes: uvicorn has no header or body timeout (its
``--timeout-keep-alive`` only covers the idle time between requests) and granian bounds the
header (``header_read_timeout``, 30 s by default) but not the body. Served by ``velocipy run``
without ``--reload``:

- granian gets ``header_read_timeout`` from ``--header-timeout``; it has no body setting;
- uvicorn (httptools) gets a protocol that answers ``408`` and closes when the request line and
  headers took longer than ``--header-timeout`` seconds, and closes the connection when the body
  is slower than ``--body-timeout`` seconds plus one second per ``BODY_MIN_RATE`` bytes received
  (a large upload on a good link is never cut; one byte every half second is).
"""

from __future__ import annotations

import asyncio
from typing import Any

HEADER_TIMEOUT_SECONDS = 10
BODY_TIMEOUT_SECONDS = 30
BODY_MIN_RATE = 8 * 1024  # bytes per second a body may fall to before it counts as slow
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 50\r\nconnection: close\r\n\r\n"
    b"The request headers took too long: send them whole"
)


def bounded_uvicorn_protocol(header_timeout: float, body_timeout: float) -> type[Any]:
    """uvicorn's httptools protocol with a header deadline and a body deadline per request."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _body_deadline = 0.0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start_header_timer()  # a client that connects and sends nothing, or little

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._start_header_timer()

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            if not (self.parser.should_upgrade() and self._should_upgrade()):  # not a WebSocket
                self._body_deadline = self.loop.time() + body_timeout
                self._body_timer = self.loop.call_at(self._body_deadline, self._body_too_slow)
            super().on_headers_complete()

        def handle_websocket_upgrade(self) -> None:
            self._cancel_header_timer()  # the connection is the WebSocket's from here on
            self._cancel_body_timer()
            super().handle_websocket_upgrade()

        def on_body(self, body: bytes) -> None:
            self._body_deadline += len(body) / BODY_MIN_RATE
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._cancel_body_timer()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            self._cancel_body_timer()
            super().connection_lost(exc)

        def _start_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _cancel_body_timer(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.write(_TIMEOUT_RESPONSE)
                self.transport.close()

        def _body_too_slow(self) -> None:
            if self.flow.read_paused:  # the app is not reading: the client is not the slow one
                self._body_deadline = self.loop.time() + body_timeout
            if self.loop.time() < self._body_deadline:  # data came since: wait until the new end
                self._body_timer = self.loop.call_at(self._body_deadline, self._body_too_slow)
                return
            self._body_timer = None
            # The handler may be reading the body: it sees the client leave, as on a drop.
            self.transport.close()

    return BoundedHttpToolsProtocol


def granian_http1_settings(header_timeout: float) -> Any:
    from granian.http import HTTP1Settings

    return HTTP1Settings(header_read_timeout=int(header_timeout * 1000))
