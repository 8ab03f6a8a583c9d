"""Server-Timing (opt-in): where a request's time went, shown by browsers' dev tools.

Phases, in milliseconds:

- ``route``: from the request's arrival to the handler's call (routing, middleware before it);
- ``handler``: the route's compiled call, which reads and validates the parameters and runs
  the handler (one call in VelociPy's plan, so one phase);
- ``encode``: turning the handler's result into the response (JSON encoding, file checks);
- ``total``: all of it, until the response leaves the app.

The routes' endpoints are timed by wrapping them when the instrument is added and again at
startup (for routes registered later); a request of a route added after startup has ``total``.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from velocipy.observability.instrument import HTTPHandler, Instrument
from velocipy.params import Endpoint
from velocipy.requests import Request
from velocipy.responses import Response

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["ServerTiming"]

_clock = time.perf_counter
# [arrival, handler called, handler returned] of the request being handled
_marks: ContextVar[list[float] | None] = ContextVar("velocipy_server_timing", default=None)


def _timed(endpoint: Endpoint) -> None:
    invoke = endpoint.invoke

    async def timed_invoke(*request: Request) -> Any:
        marks = _marks.get()
        if marks is not None:
            marks[1] = _clock()
        try:
            return await invoke(*request)
        finally:
            if marks is not None:
                marks[2] = _clock()

    endpoint.invoke = timed_invoke


def _ms(seconds: float) -> str:
    """Milliseconds with three decimals (PERF: integer formatting; a float's costs more)."""
    micros = round(seconds * 1_000_000)
    return f"{micros // 1000}.{micros % 1000:03d}"


def server_timing_header(marks: list[float], end: float) -> str:
    arrival, called, returned = marks
    total = f"total;dur={_ms(end - arrival)}"
    if not called:
        return total
    route = f"route;dur={_ms(called - arrival)}"
    if not returned:
        return f"{route}, {total}"
    return (
        f"{route}, handler;dur={_ms(returned - called)};"
        f'desc="parameters/validation/handler", encode;dur={_ms(end - returned)}, {total}'
    )


class ServerTiming(Instrument):
    """``app.add_instrument(ServerTiming())``: a ``Server-Timing`` header on every response."""

    def __init__(self) -> None:
        self._timed: set[int] = set()

    def install(self, app: Application) -> None:
        super().install(app)
        self.time_endpoints()
        app.lifespan.on_startup.append(self.time_endpoints)

    def time_endpoints(self) -> None:
        """Time every route's endpoint not timed yet (called on install and at startup)."""
        for route in self.app._routes:
            endpoint = route.compiled
            if isinstance(endpoint, Endpoint) and id(endpoint) not in self._timed:
                self._timed.add(id(endpoint))
                _timed(endpoint)

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        async def timed(request: Request) -> Response:
            marks = [_clock(), 0.0, 0.0]
            token = _marks.set(marks)
            try:
                response = await handle_http(request)
            finally:
                _marks.reset(token)
            response.raw_headers.append(("server-timing", server_timing_header(marks, _clock())))
            return response

        return timed
