"""The HTTP app served by real uvicorn and granian processes in tests/interop/test_http_interop.py.

Lifespan effects are files: startup writes ``startup-<pid>`` and shutdown writes
``shutdown-<pid>`` into the directory named by ``VELOCIPY_INTEROP_MARKERS`` (if set).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import msgspec

from velocipy import (
    FileResponse,
    Header,
    HTTPException,
    Query,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
    VelociPy,
)

MARKER_DIR_VARIABLE = "VELOCIPY_INTEROP_MARKERS"
MAX_BODY_SIZE = 64 * 1024
STREAM_CHUNKS = 20


def _mark(event: str) -> None:
    directory = os.environ.get(MARKER_DIR_VARIABLE)
    if directory:
        Path(directory, f"{event}-{os.getpid()}").write_text(event)


@contextlib.asynccontextmanager
async def lifespan(app: VelociPy) -> AsyncIterator[dict[str, Any]]:
    _mark("startup")
    yield {"started": True}
    _mark("shutdown")


app = VelociPy(lifespan=lifespan, max_body_size=MAX_BODY_SIZE)


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@app.get("/hello")
async def hello() -> str:
    return "hello"


@app.get("/started")
async def started(request: Request) -> dict[str, Any]:
    return {"started": getattr(request.app.state, "started", False), "pid": os.getpid()}


@app.get("/items/{item_id:int}")
async def read_item(
    item_id: int,
    q: str | None = None,
    tag: Annotated[list[str], Query()] = [],
    x_token: Annotated[str, Header()] = "none",
) -> dict[str, Any]:
    return {"id": item_id, "q": q, "tags": tag, "token": x_token}


@app.put("/items/{item_id:int}")
async def replace_item(item_id: int) -> dict[str, int]:
    return {"replaced": item_id}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@app.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    return {"value": await request.json()}


@app.post("/upload")
async def upload(request: Request) -> dict[str, int]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return {"size": size}


@app.get("/files/{rest:path}")
async def files(rest: str) -> dict[str, str]:
    return {"rest": rest}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def numbers() -> AsyncIterator[str]:
        for index in range(STREAM_CHUNKS):
            await asyncio.sleep(0.001)
            yield f"{index}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


@app.get("/file")
async def file() -> FileResponse:
    return FileResponse(__file__, media_type="text/x-python")


@app.get("/missing-file")
async def missing_file() -> FileResponse:
    return FileResponse(Path(__file__).with_name("no-such-file.bin"))


@app.get("/teapot")
async def teapot() -> None:
    raise HTTPException(418, "short and stout", headers={"x-pot": "yes"})


@app.get("/redirect")
async def redirect() -> Response:
    return RedirectResponse("/hello")


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("interop boom")
