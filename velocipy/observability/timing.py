"""Server-Timing (opt-in): where a request's time went, shown by browsers' dev tools.

Phases, in milliseconds:

- ``route``: from the request's arrival to its route's compiled call (routing, the app's
  middleware, and the route's own cache, rate limit and middleware);
- ``params``: reading and validating the parameters and the body, and the dependencies, until
  the handler is called;
- ``handler``: the handler, from its call to its return (a plain ``def`` handler's thread
  included);
- ``encode``: from the handler's return until the response leaves the app (the result turned
  into a response, dependencies' teardown, middleware after the handler);
- ``total``: all of it.

The instrument is a route hook (velocipy/http_routes.py): each route is compiled with its
handler wrapped to mark the handler's call and return, and its compiled call wrapped to mark
where the parameters start. Routes are built with the hook whenever they are registered, so an
app without the instrument compiles its handlers as written.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from velocipy.http_routes import RouteHook, add_route_hook
from velocipy.observability.instrument import HTTPHandler, Instrument
from velocipy.params import Endpoint
from velocipy.requests import Request
from velocipy.responses import Response

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["ServerTiming"]

_clock = time.perf_counter
# [arrival, compiled call, handler called, handler returned] of the request being handled
_marks: ContextVar[list[float] | None] = ContextVar("velocipy_server_timing", default=None)
_INVOKED, _CALLED, _RETURNED = 1, 2, 3


def _mark(index: int) -> None:
    marks = _marks.get()
    if marks is not None:
        marks[index] = _clock()


def _timed_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` marking its call and its return (a plain one marks them in its thread: the
    thread runs in a copy of the request's context, which holds the same marks)."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            _mark(_CALLED)
            try:
                return await handler(*args, **kwargs)
            finally:
                _mark(_RETURNED)

        return timed

    @functools.wraps(handler)
    def timed_in_thread(*args: Any, **kwargs: Any) -> Any:
        _mark(_CALLED)
        try:
            return handler(*args, **kwargs)
        finally:
            _mark(_RETURNED)

    return timed_in_thread


def _timed_invoke(endpoint: Endpoint) -> None:
    """Mark where the route's compiled call starts: the parameters' phase begins there."""
    invoke = endpoint.invoke

    def timed_invoke(*request: Request) -> Any:
        _mark(_INVOKED)
        return invoke(*request)  # the handler's coroutine, or the compiled call's

    endpoint.invoke = timed_invoke


def _ms(seconds: float) -> str:
    """Milliseconds with three decimals (PERF: integer formatting; a float's costs more)."""
    micros = round(seconds * 1_000_000)
    return f"{micros // 1000}.{micros % 1000:03d}"


def server_timing_header(marks: list[float], end: float) -> str:
    """The header's value; a phase that did not happen is left out (no handler ran for a 404,
    a 422 or a cached answer: ``route`` and ``total``, or ``total`` alone)."""
    arrival, invoked, called, returned = marks
    total = f"total;dur={_ms(end - arrival)}"
    if not invoked:
        return total
    route = f"route;dur={_ms(invoked - arrival)}"
    if not called or not returned:
        return f"{route}, {total}"
    return (
        f'{route}, params;dur={_ms(called - invoked)};desc="parameters and validation", '
        f"handler;dur={_ms(returned - called)}, encode;dur={_ms(end - returned)}, {total}"
    )


class _ServerTimingHook(RouteHook):
    def wrap_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        return _timed_handler(handler)

    def compiled(self, endpoint: Endpoint) -> None:
        _timed_invoke(endpoint)


class ServerTiming(Instrument):
    """``app.add_instrument(ServerTiming())``: a ``Server-Timing`` header on every response."""

    def install(self, app: Application) -> None:
        super().install(app)
        add_route_hook(app, _ServerTimingHook())

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        async def timed(request: Request) -> Response:
            marks = [_clock(), 0.0, 0.0, 0.0]
            token = _marks.set(marks)
            try:
                response = await handle_http(request)
            finally:
                _marks.reset(token)
            response.raw_headers.append(("server-timing", server_timing_header(marks, _clock())))
            return response

        return timed
