"""A stream that produces as fast as the server takes it, for the slow-reader memory test
(tests/interop/test_slow_reader_memory.py). ``<name>-done`` is written to
``VELOCIPY_FLOOD_MARKERS`` once the generator produced its last chunk."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from velocipy import FileResponse, StreamingResponse, VelociPy

MARKER_DIR_VARIABLE = "VELOCIPY_FLOOD_MARKERS"
CHUNK = b"f" * (64 * 1024)

app = VelociPy()


def mark_done(name: str) -> None:
    Path(os.environ[MARKER_DIR_VARIABLE], f"{name}-done").write_text(name)


@app.get("/pid")
async def pid() -> dict[str, int]:
    """The worker's process id (granian serves from a child of the process the test started)."""
    return {"pid": os.getpid()}


@app.get("/flood/{name}")
async def flood(name: str, mib: int) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(mib * 16):
            yield CHUNK
        mark_done(name)

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/file")
async def file(path: str) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream")
