"""The app tests/interop/test_compression_interop.py runs on real servers (CompressionMiddleware).

Markers in ``VELOCIPY_COMPRESSION_MARKERS``: ``<name>-background`` when the background task ran,
``<name>-provider-<outcome>`` when the ``yield`` provider ended, ``<name>-finally`` when a
slow stream's generator was stopped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from velocipy import BackgroundTasks, Depends, Response, StreamingResponse, VelociPy
from velocipy.middleware import CompressionMiddleware
from velocipy.sse import EventSourceResponse

MARKER_DIR_VARIABLE = "VELOCIPY_COMPRESSION_MARKERS"
LINE = "a line of a stream, long enough to be worth compressing\n"

app = VelociPy()
app.add_middleware(CompressionMiddleware, minimum_size=100)


def mark(name: str) -> None:
    Path(os.environ[MARKER_DIR_VARIABLE], name).write_text(name)


async def transaction(name: str) -> AsyncIterator[None]:
    try:
        yield
    except BaseException as exc:
        mark(f"{name}-provider-{type(exc).__name__}")
        raise
    else:
        mark(f"{name}-provider-commit")


@app.get("/stream/{name}")
async def stream(
    name: str, tasks: BackgroundTasks, tx: Annotated[None, Depends(transaction)]
) -> Response:
    tasks.add_task(mark, f"{name}-background")

    async def lines() -> AsyncIterator[str]:
        for _ in range(100):
            yield LINE

    return StreamingResponse(lines(), media_type="text/plain")


@app.get("/slow/{name}")
async def slow(name: str) -> Response:
    """One line, then nothing for a minute: only an incremental encoder lets it through."""

    async def lines() -> AsyncIterator[str]:
        try:
            yield LINE
            await asyncio.sleep(60)
            yield LINE
        finally:
            mark(f"{name}-finally")

    return StreamingResponse(lines(), media_type="text/plain")


@app.get("/events")
async def events() -> Response:
    async def ticks() -> AsyncIterator[str]:
        for _ in range(20):
            yield LINE

    return EventSourceResponse(ticks(), ping=None)
