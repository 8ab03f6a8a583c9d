"""Static files, FileResponse ranges, SSE and templates, served by real uvicorn and granian.

The served tree is the directory named by ``VELOCIPY_FILES_ROOT`` (made by the tests):
``public/`` is mounted at ``/static`` (``html=True`` at ``/site``), ``templates/`` holds the
Jinja2 templates. SSE generators write ``<name>-finally`` into ``VELOCIPY_FILES_MARKERS`` when
their ``finally`` runs, so a test can see that a departed client stopped them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from velocipy import FileResponse, Header, Request, VelociPy
from velocipy.sse import EventSourceResponse, ServerSentEvent
from velocipy.staticfiles import StaticFiles, safe_join
from velocipy.templating import Jinja2Templates

ROOT = Path(os.environ.get("VELOCIPY_FILES_ROOT", "."))
MARKERS = os.environ.get("VELOCIPY_FILES_MARKERS")

app = VelociPy()
app.mount("/static", StaticFiles(directory=ROOT / "public"), name="static")
app.mount("/site", StaticFiles(directory=ROOT / "public", html=True), name="site")
templates = Jinja2Templates(ROOT / "templates")


def _mark(name: str) -> None:
    if MARKERS:
        Path(MARKERS, name).write_text(name)


@app.get("/hello")
async def hello() -> str:
    return "hello"


@app.get("/downloads/{name:path}")
async def download(name: str) -> FileResponse:
    return FileResponse(safe_join(ROOT / "public", name))


@app.get("/page")
async def page(request: Request, who: str = "world") -> object:
    return templates.TemplateResponse(request, "page.html", {"who": who})


@app.get("/events")
async def events(last_event_id: Annotated[str | None, Header()] = None) -> EventSourceResponse:
    """Three numbered events after ``Last-Event-ID``, then the stream ends (the browser retries)."""
    first = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 1

    async def numbered() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(retry=200)
        for number in range(first, first + 3):
            yield ServerSentEvent({"n": number, "resumed": last_event_id}, id=number)
            await asyncio.sleep(0.02)

    return EventSourceResponse(numbered())


@app.get("/endless/{name}")
async def endless(name: str) -> EventSourceResponse:
    """An event every 50 ms until the client leaves; ``finally`` leaves a marker."""

    async def ticks() -> AsyncIterator[ServerSentEvent]:
        _mark(f"{name}-started")
        try:
            number = 0
            while True:
                number += 1
                yield ServerSentEvent(f"tick {number}", event="tick")
                await asyncio.sleep(0.05)
        finally:
            _mark(f"{name}-finally")

    return EventSourceResponse(ticks(), ping=0.2)


@app.get("/quiet/{name}")
async def quiet(name: str) -> EventSourceResponse:
    """No events at all, only pings: the client leaving must still stop the generator."""

    async def nothing() -> AsyncIterator[str]:
        _mark(f"{name}-started")
        try:
            await asyncio.Event().wait()
            yield "never"
        finally:
            _mark(f"{name}-finally")

    return EventSourceResponse(nothing(), ping=0.1)
