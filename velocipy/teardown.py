"""Teardown of ``yield`` providers: the code after ``yield``, run newest first.

After a response was sent (through ``Response.background``, after the response's own
background work) or, when the handler raised, with the exception thrown in at the ``yield``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

from velocipy.responses import Response

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
    before = response.background

    async def after() -> None:
        try:
            if before is not None:
                await before()
        finally:
            await close_entered(entered)

    response.background = after
