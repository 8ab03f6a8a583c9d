"""The app the hostile-client suite (tests/interop/test_hostile_http.py) attacks on real servers.

Streamed responses write ``<name>-finally`` into ``VELOCIPY_HOSTILE_MARKERS`` when their
generator's ``finally`` runs, so a test can see that a departed client stopped them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from velocipy import FileResponse, Request, Response, StreamingResponse, VelociPy

MARKER_DIR_VARIABLE = "VELOCIPY_HOSTILE_MARKERS"
MAX_BODY_SIZE = 64 * 1024
FILES = Path(__file__).parent

# VELOCIPY_TEST_JSON picks the JSON adapter (msgspec, orjson or stdlib) for the parity suite.
app = VelociPy(
    max_body_size=MAX_BODY_SIZE, json_adapter=os.environ.get("VELOCIPY_TEST_JSON", "msgspec")
)


def _mark(name: str) -> None:
    directory = os.environ.get(MARKER_DIR_VARIABLE)
    if directory:
        Path(directory, name).write_text(name)


@app.get("/hello")
async def hello() -> str:
    return "hello"


@app.post("/echo")
async def echo(request: Request, mark: str = "") -> dict[str, Any]:
    try:
        return {"len": len(await request.body())}
    finally:
        if mark:
            _mark(mark)


@app.post("/upload")
async def upload(request: Request, mark: str = "") -> dict[str, int]:
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
    finally:
        if mark:
            _mark(mark)
    return {"size": size}


@app.get("/busy-stream/{name}")
async def busy_stream(name: str) -> StreamingResponse:
    """Produces a chunk every 10 ms for ever (until the client leaves)."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                await asyncio.sleep(0.01)
                yield b"x" * 1024
        finally:
            _mark(f"{name}-finally")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/waiting-stream/{name}")
async def waiting_stream(name: str) -> StreamingResponse:
    """Sends one chunk, then waits (sends nothing) for an hour: an idle SSE-like stream."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"first\n"
            await asyncio.sleep(3600)
            yield b"never\n"
        finally:
            _mark(f"{name}-finally")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.post("/waiting-stream/{name}")
async def waiting_stream_after_body(name: str, request: Request) -> StreamingResponse:
    """The same after reading the body (granian ASGI: the body's empty last message unread)."""
    await request.body()
    return await waiting_stream(name)


@app.get("/files/{name:path}")
async def files(name: str) -> FileResponse:
    """Deliberately naive (joins user input): the NUL check must hold even here."""
    return FileResponse(FILES / name)


@app.get("/header")
async def header(request: Request) -> Response:
    """Echoes ``?value=`` into a response header: control characters must be refused."""
    return Response("ok", headers={"x-echo": request.query_params.get("value", "")})


@app.get("/inspect")
async def inspect(request: Request) -> dict[str, Any]:
    """What the app made of the request's headers, cookies and URL."""
    return {
        "dup": len(request.headers.get_list("x-dup")),
        "cookies": len(request.cookies),
        "url": str(request.url),
        "host": request.url.host,
        "name": request.headers.get("x-name"),
    }


@app.get("/items/{item_id:int}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@app.get("/orders/{order_id}")
async def order(order_id: uuid.UUID) -> dict[str, str]:
    return {"id": str(order_id)}


@app.get("/accounts/{account_id}")
async def account(account_id: int) -> dict[str, int]:
    """An id declared as int by the annotation, not the path: a malformed one is a 422."""
    return {"id": account_id}


@app.get("/cookie")
async def cookie(request: Request) -> Response:
    """Sets a cookie from ``?value=``: the value is quoted, never breaks the header."""
    response = Response("ok")
    response.set_cookie("echo", request.query_params.get("value", ""))
    return response


@app.get("/short-stream")
async def short_stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for line in ("a\n", "b\n", "c\n"):
            yield line

    return StreamingResponse(lines(), media_type="text/plain")


@app.post("/json")
async def json_echo(request: Request) -> Any:
    return {"value": await request.json()}
