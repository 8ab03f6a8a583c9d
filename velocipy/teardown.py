"""Teardown of ``yield`` providers: the code after ``yield``, run newest first.

After a response was sent (through ``Response.background``, after the response's own
background work) or, when the handler raised or the body failed after the response started,
with that exception thrown in at the ``yield``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

from velocipy.responses import AfterResponse, Response, after_failed_body

__all__ = ["close_entered", "next_of", "teardown_after"]


def next_of(gen: Generator[Any, None, None]) -> Any:
    """The value a sync generator provider yields (run in a worker thread)."""
    try:
        return next(gen)
    except StopIteration:
        raise RuntimeError("a provider returned without yielding a value") from None


def _finish(gen: Generator[Any, None, None], exc: BaseException | None) -> bool:
    """Resume a sync generator after its ``yield`` (throwing ``exc``); True when it ended."""
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except StopIteration:
        return True
    gen.close()  # it yielded again: finish it (the caller says so)
    return False


async def close_entered(entered: list[Any], exc: BaseException | None = None) -> None:
    """Run the teardown of every entered generator, newest first.

    With ``exc`` (the handler raised) it is thrown into each generator; a provider that raises
    something else replaces it, like nested ``with`` blocks. Without ``exc`` every teardown runs
    even when one fails; the first failure is raised after all of them ran.
    """
    current = exc
    failure: BaseException | None = None
    for gen in reversed(entered):
        try:
            if isinstance(gen, AsyncGenerator):
                try:
                    if current is None:
                        await gen.__anext__()
                    else:
                        await gen.athrow(current)
                except StopAsyncIteration:
                    continue
                await gen.aclose()  # it yielded again: finish it, then say so
                ended = False
            else:
                ended = await asyncio.to_thread(_finish, gen, current)
            if not ended:
                raise RuntimeError(
                    f"provider {getattr(gen, '__qualname__', gen)} yielded more than once; "
                    "yield exactly one value"
                )
        except BaseException as raised:
            if current is not None:
                if raised is not current:
                    current = raised
            elif failure is None:
                failure = raised
    entered.clear()
    if current is not None and current is not exc:
        raise current
    if failure is not None:
        raise failure


def teardown_after(response: Response, entered: list[Any]) -> None:
    """Let ``response`` close the generators after it was sent, after its own background work."""
    response.background = _TeardownAfter(response.background, entered)


class _TeardownAfter:
    """The response's own work, then the teardown; when the body failed after it started, the
    work is skipped (see ``after_failed_body``) and the providers get the body's error."""

    __slots__ = ("before", "entered")

    def __init__(self, before: AfterResponse | None, entered: list[Any]) -> None:
        self.before = before
        self.entered = entered

    async def __call__(self) -> None:
        try:
            if self.before is not None:
                await self.before()
        finally:
            await close_entered(self.entered)

    async def after_failed_body(self, failure: BaseException) -> None:
        try:
            if self.before is not None:
                await after_failed_body(self.before, failure)
        finally:
            await close_entered(self.entered, failure)

    def __repr__(self) -> str:
        return f"teardown of {len(self.entered)} provider(s) after {self.before!r}"
