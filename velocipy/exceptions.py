"""Exceptions a handler raises on purpose, and the ones the framework raises for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

__all__ = [
    "ClientDisconnect",
    "HTTPException",
    "RequestValidationError",
    "StartupError",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketStateError",
]


class HTTPException(Exception):
    """Answer the request with ``status_code`` and ``{"detail": detail}``."""

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            try:
                detail = HTTPStatus(status_code).phrase
            except ValueError:
                detail = "Error"
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None
        super().__init__(status_code, detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class RequestValidationError(HTTPException):
    """Input that does not fit the handler's declared parameters (422, or 400 for malformed JSON).

    ``errors`` is a list of ``{"loc": [...], "msg": str, "type": str}`` dictionaries.
    """

    def __init__(self, errors: Sequence[dict[str, Any]], status_code: int = 422) -> None:
        self.errors = list(errors)
        super().__init__(status_code, self.errors)


class WebSocketException(Exception):
    """Raised in a WebSocket handler to close the connection with ``code`` and ``reason``."""

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketDisconnect(Exception):
    """The connection is over: the client left, or it was closed while a call was waiting.

    ``code`` is the close code the server reported: the client's own code on ASGI, 1005 (no code)
    or 1006 (connection lost) on RSGI, which cannot carry close codes.
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketStateError(RuntimeError):
    """A WebSocket method was called in a state that does not allow it (e.g. send before accept)."""


class ClientDisconnect(Exception):
    """The request body ended early: the client went away, or its framing was malformed.

    The app answers 400 without logging an error (a client's doing, not the app's).
    """

    def __init__(
        self,
        message: str = "The request body ended early: the connection closed or its "
        "framing was malformed",
    ) -> None:
        super().__init__(message)


class StartupError(Exception):
    """A worker cannot start (missing settings, an app-scoped dependency that failed).

    The adapters log its one-line message without a traceback: it is a configuration mistake
    the message explains, not a bug in the framework.
    """
