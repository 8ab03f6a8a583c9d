"""Development only: name a handler that keeps the event loop busy (``time.sleep`` in ``async``).

``velocipy run`` (with reload, or ``--debug``) sets ``VELOCIPY_WATCH_LOOP=1`` for the app; only
then are ``async def`` handlers wrapped, when their route is registered. The wrapper drives the
handler's coroutine one step at a time and times each step: a step is the code between two
awaits, during which nothing else on the loop runs. A step longer than the threshold is logged
once per handler. Without the variable nothing is wrapped, so production pays nothing.
The app adds :class:`LoopWatch` to its route hooks (velocipy/http_routes.py) when it is set.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from velocipy.http_routes import RouteHook
from velocipy.registration import described_as

__all__ = ["BLOCKING_THRESHOLD", "LoopWatch", "watch_loop_enabled", "watching_the_loop"]

logger = logging.getLogger("velocipy")

BLOCKING_THRESHOLD = 0.1  # seconds one step of a handler may keep the loop to itself


def watch_loop_enabled() -> bool:
    """True when ``velocipy run`` asked for it (reload or --debug)."""
    return os.environ.get("VELOCIPY_WATCH_LOOP", "").strip().lower() in {"1", "true", "yes", "on"}


class LoopWatch(RouteHook):
    """The route hook that watches every ``async def`` handler (plain ones run in threads)."""

    def wrap_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(handler) and not inspect.isasyncgenfunction(handler):
            return watching_the_loop(handler)
        return handler


def watching_the_loop(
    handler: Callable[..., Coroutine[Any, Any, Any]], threshold: float = BLOCKING_THRESHOLD
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``handler`` (an ``async def``) with every step timed; the first slow one is logged."""
    warned = False

    def report(seconds: float) -> None:
        nonlocal warned
        if warned:
            return
        warned = True
        logger.warning(
            "%s kept the event loop busy for %d ms without awaiting (more than %d ms): every "
            "other request waited. Make it a plain `def` handler (it then runs in a thread) or "
            "run the blocking call in a thread: `await asyncio.to_thread(...)`",
            described_as(handler),
            round(seconds * 1000),
            round(threshold * 1000),
        )

    @functools.wraps(handler)
    async def watched(*args: Any, **kwargs: Any) -> Any:
        if warned:
            return await handler(*args, **kwargs)
        return await _stepwise(handler(*args, **kwargs), threshold, report)

    return watched


@types.coroutine
def _stepwise(
    coroutine: Coroutine[Any, Any, Any], threshold: float, report: Callable[[float], None]
) -> Generator[Any, Any, Any]:
    """Await ``coroutine`` by hand, timing each ``send`` (what runs before its next await)."""
    value: Any = None
    pending: BaseException | None = None
    while True:
        start = time.perf_counter()
        try:
            step = coroutine.throw(pending) if pending is not None else coroutine.send(value)
        except StopIteration as done:
            return done.value
        finally:
            elapsed = time.perf_counter() - start
            if elapsed > threshold:
                report(elapsed)
        pending = None
        try:
            value = yield step
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # cancellation and the like go on into the handler
            pending, value = exc, None
