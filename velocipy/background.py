"""Background tasks: work that runs after the response was sent.

A handler asks for a :class:`BackgroundTasks` parameter and adds to it, or builds a response
with ``background=BackgroundTask(func, ...)``. Both ride on ``Response.background``, which the
adapters run after the last byte (``velocipy.responses.run_after_response``). Tasks run in the
order they were added; a failing task is logged with its traceback and the next one still runs;
plain ``def`` functions run in a worker thread so they cannot block the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from velocipy.responses import AfterResponse, Response, after_failed_body

__all__ = ["BackgroundTask", "BackgroundTasks", "add_after_response"]

logger = logging.getLogger("velocipy")


class BackgroundTask:
    """One call, ``func(*args, **kwargs)``, made after the response was sent."""

    __slots__ = ("args", "func", "is_async", "kwargs")

    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = _is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await asyncio.to_thread(self.func, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"BackgroundTask({getattr(self.func, '__qualname__', self.func)!r})"


class BackgroundTasks:
    """Tasks to run, in order, after the response was sent; one failing never stops the rest."""

    __slots__ = ("tasks",)

    def __init__(self, tasks: list[BackgroundTask] | None = None) -> None:
        self.tasks: list[BackgroundTask] = list(tasks or [])

    def add_task(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``func(*args, **kwargs)`` after the response (sync functions in a thread)."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    def __len__(self) -> int:
        return len(self.tasks)

    async def __call__(self) -> None:
        for task in self.tasks:
            await _run_logged(task)

    def __repr__(self) -> str:
        return f"BackgroundTasks({self.tasks!r})"


def add_after_response(response: Response, work: AfterResponse) -> None:
    """Attach ``work`` to ``response``, after whatever it already carries (never replacing it)."""
    earlier = response.background
    response.background = work if earlier is None else _InOrder(earlier, work)


class _InOrder:
    """Two works run one after the other; a failing first one never stops the second."""

    __slots__ = ("first", "second")

    def __init__(self, first: AfterResponse, second: AfterResponse) -> None:
        self.first = first
        self.second = second

    async def __call__(self) -> None:
        await _run_logged(self.first)
        await _run_logged(self.second)

    async def after_failed_body(self, failure: BaseException) -> None:
        try:
            await after_failed_body(self.first, failure)
        finally:
            await after_failed_body(self.second, failure)

    def __repr__(self) -> str:
        return f"{self.first!r} then {self.second!r}"


async def _run_logged(work: AfterResponse) -> None:
    try:
        await work()
    except Exception:
        logger.exception("background task %r failed", work)


def _is_async_callable(func: Any) -> bool:
    """Whether calling ``func`` makes a coroutine; decided once, when the task is created.

    ``functools.partial`` flattens partials of partials, so one look inside is enough; an
    object whose class has an ``async def __call__`` counts, a class (its constructor) does not.
    """
    target = func.func if isinstance(func, functools.partial) else func
    if inspect.iscoroutinefunction(target):
        return True
    if isinstance(target, type):
        return False
    return inspect.iscoroutinefunction(inspect.getattr_static(type(target), "__call__", None))
