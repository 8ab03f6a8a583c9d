"""Exceptions raised by the test client and by its fake RSGI server objects."""

from __future__ import annotations


class WorkerCrash(BaseException):
    """The app made a call that panics inside granian and kills the worker process.

    Real granian dies on these calls (a response status outside 100-999, ``accept()`` twice, a
    WebSocket ``close(status)`` before accept with a status that is not an HTTP status). The fake
    raises this, and the test client re-raises it from the request that caused it even when the
    app swallowed it, so tests catch a framework that would take a real server down. Like pyo3's
    ``PanicException`` it is a ``BaseException``, so ``except Exception`` does not hide it.
    """


class RSGIProtocolError(RuntimeError):
    """Misuse of an RSGI protocol object (named and worded like granian's)."""

    def __init__(self, message: str = "RSGI protocol error") -> None:
        super().__init__(message)


class RSGIProtocolClosed(RuntimeError):
    """The RSGI transport is closed (named and worded like granian's)."""

    def __init__(self, message: str = "RSGI transport is closed") -> None:
        super().__init__(message)


class ClientDisconnected(OSError):
    """ASGI ``send()`` on a connection that is already closed (ASGI spec: an OSError subclass)."""


class ASGIProtocolViolation(RuntimeError):
    """The app sent an ASGI message that is invalid or out of order (uvicorn raises too)."""


class IncompleteResponse(Exception):
    """The ASGI app started a response and never finished it; a real server drops the connection."""


class LifespanError(Exception):
    """Lifespan startup or shutdown reported failure (``lifespan.*.failed``)."""


class StreamNotReleased(Exception):
    """An RSGI stream transport stayed referenced after the app returned.

    Granian ends a streamed response only when the transport object is released, so under a
    real server this response would never finish and the client would hang.
    """


class TransportNotReleased(Exception):
    """An RSGI WebSocket transport stayed referenced after the app's handler returned.

    Granian finishes a WebSocket connection only when its transport object is released, so
    under a real server the client's close would wait until the client gave up.
    """


class WebSocketDenied(Exception):
    """The server refused the WebSocket handshake with an HTTP status (e.g. 403)."""

    def __init__(self, status_code: int, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"WebSocket handshake refused with HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers or []


class WebSocketClosed(Exception):
    """Receive or send on a WebSocket that the server side has closed."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(
            f"WebSocket closed by the server with code {code}" + (f": {reason}" if reason else "")
        )
        self.code = code
        self.reason = reason
