"""The app tests/interop/test_response_lifecycle.py runs on real servers: what happens to a
response's body and its after-response work when things go wrong.

Every route writes markers into ``VELOCIPY_LIFECYCLE_MARKERS``: ``<name>-finally`` when a
producer's ``finally`` runs, ``<name>-closed`` when a body object is closed,
``<name>-background`` when a background task ran, and ``<name>-provider-<outcome>`` when the
``yield`` provider ended (``commit``, or the name of the exception it saw).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

from velocipy import (
    BackgroundTasks,
    Depends,
    FileResponse,
    Response,
    StreamingResponse,
    VelociPy,
)
from velocipy.middleware import GZipMiddleware
from velocipy.sse import EventSourceResponse

MARKER_DIR_VARIABLE = "VELOCIPY_LIFECYCLE_MARKERS"
TEXT_FILE = Path(__file__).parent / "hostile_app.py"  # a text file of a few kB

app = VelociPy()
app.add_middleware(GZipMiddleware, minimum_size=100)  # only for clients that ask for gzip


def mark(name: str) -> None:
    directory = os.environ.get(MARKER_DIR_VARIABLE)
    if directory:
        Path(directory, name).write_text(name)


async def transaction(name: str) -> AsyncIterator[str]:
    """A provider that says how it ended: commit, or the exception thrown in at its yield."""
    try:
        yield name
    except BaseException as exc:
        mark(f"{name}-provider-{type(exc).__name__}")
        raise
    else:
        mark(f"{name}-provider-commit")


Transaction = Annotated[str, Depends(transaction)]


def with_after_work(response: Response, tasks: BackgroundTasks, name: str) -> Response:
    tasks.add_task(mark, f"{name}-background")
    return response


# --- producers that never await -------------------------------------------------------------


@app.get("/tight/{name}")
async def tight(name: str) -> StreamingResponse:
    """An endless producer that never awaits: only the sending loop can stop it."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            mark(f"{name}-finally")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/tight-sync/{name}")
async def tight_sync(name: str) -> StreamingResponse:
    """An endless plain (sync) generator: it never yields control on its own either."""

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            mark(f"{name}-finally")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/tight-events/{name}")
async def tight_events(name: str) -> EventSourceResponse:
    """The issue's example: ``while True: yield f"tick {n}"`` as an event stream."""

    async def ticks() -> AsyncIterator[str]:
        n = 0
        try:
            while True:
                n += 1
                yield f"tick {n}"
        finally:
            mark(f"{name}-finally")

    return EventSourceResponse(ticks(), ping=None)


# --- bodies that are never sent (HEAD) --------------------------------------------------------


class MarkingBody:
    """An async iterator that marks ``<name>-closed`` when closed (one chunk, then the end)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = False

    def __aiter__(self) -> MarkingBody:
        return self

    async def __anext__(self) -> str:
        if self.sent:
            raise StopAsyncIteration
        self.sent = True
        return "data"

    async def aclose(self) -> None:
        mark(f"{self.name}-closed")


class MarkingLines:
    """The same as a plain iterator (advanced in a worker thread), with ``close``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines = iter(["data"])

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self.lines)

    def close(self) -> None:
        mark(f"{self.name}-closed")


@app.get("/body/{kind}/{name}")
async def body(kind: str, name: str, tasks: BackgroundTasks, tx: Transaction) -> Response:
    """A stream of ``kind`` (stream, lines, events) over a body that marks when it is closed."""
    if kind == "events":
        response: Response = EventSourceResponse(MarkingBody(name), ping=None)
    elif kind == "lines":
        response = StreamingResponse(MarkingLines(name), media_type="text/plain")
    else:
        response = StreamingResponse(MarkingBody(name), media_type="text/plain")
    return with_after_work(response, tasks, name)


# --- bodies that fail after they started ------------------------------------------------------


@app.get("/failing/{name}")
async def failing(name: str, tasks: BackgroundTasks, tx: Transaction) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk\n"
        raise RuntimeError(f"the body of {name} broke")

    return with_after_work(StreamingResponse(chunks(), media_type="text/plain"), tasks, name)


# --- files and their bodiless answers ---------------------------------------------------------


@app.get("/file/{name}")
async def file(name: str, tasks: BackgroundTasks, tx: Transaction) -> Response:
    """The text file, with after-response work (304 and 416 answers must keep it)."""
    return with_after_work(FileResponse(TEXT_FILE, media_type="text/plain"), tasks, name)


@app.get("/stream/{name}")
async def stream(name: str, tasks: BackgroundTasks, tx: Transaction) -> Response:
    """A plain stream with after-response work (GZip must keep it)."""

    async def lines() -> AsyncIterator[str]:
        for n in range(50):
            yield f"line {n} of a stream that is long enough to be compressed\n"

    return with_after_work(StreamingResponse(lines(), media_type="text/plain"), tasks, name)


@app.get("/growing")
async def growing(path: str) -> FileResponse:
    """A file the test appends to while it is sent: exactly the announced length goes out."""
    return FileResponse(path, media_type="application/octet-stream")


@app.get("/hello")
async def hello() -> dict[str, Any]:
    return {"hello": "world"}
