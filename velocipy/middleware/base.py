"""The class-middleware base: one object that can wrap HTTP requests and guard WebSocket handshakes.

A middleware is written against the neutral :class:`~velocipy.Request`, :class:`~velocipy.Response`
and :class:`~velocipy.WebSocket`, so the same class runs on ASGI and RSGI. Override either hook
(or both); a hook left as inherited costs nothing, because the app builds its chain once, from
the hooks each middleware really defines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from velocipy.datastructures import check_header
from velocipy.requests import Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

__all__ = ["CallNext", "Middleware", "add_vary"]

CallNext: TypeAlias = Callable[[Request], Awaitable[Response]]


class Middleware:
    """Subclass and override :meth:`dispatch`, :meth:`handshake`, or both.

    ``app.add_middleware(MyMiddleware, **options)`` calls ``MyMiddleware(**options)`` once, when
    it is added; the first middleware added runs outermost.
    """

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        """Handle an HTTP request: call ``await call_next(request)`` for the inner response,
        or return a response of your own without calling it."""
        return await call_next(request)

    async def handshake(self, websocket: WebSocket) -> Response | None:
        """Look at a WebSocket handshake before its handler runs.

        Return ``None`` to let it through, or a :class:`Response` to refuse it with that status
        (headers and body reach the client on ASGI; RSGI sends the status only).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def defines_dispatch(middleware: Middleware) -> bool:
    return type(middleware).dispatch is not Middleware.dispatch


def defines_handshake(middleware: Middleware) -> bool:
    return type(middleware).handshake is not Middleware.handshake


def add_vary(response: Response, name: str) -> None:
    """Add ``name`` to the response's ``Vary`` header, once.

    PERF: the header list is walked once (names are lower-case there), not looked up and
    rewritten through ``response.headers``.
    """
    check_header("vary", name)
    raw = response.raw_headers
    for index, (key, current) in enumerate(raw):
        if key == "vary":
            if name.lower() not in {v.strip().lower() for v in current.split(",")}:
                raw[index] = ("vary", f"{current}, {name}")
            return
    raw.append(("vary", name))
