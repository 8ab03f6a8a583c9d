"""The probe app `velocipy run --check` serves with the chosen server to see what it supports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from velocipy import Request, VelociPy, WebSocket
from velocipy.responses import StreamingResponse

CHUNK = 64 * 1024
CHUNKS = 1024  # 64 MiB: far more than any socket buffer holds
app = VelociPy(max_body_size=1024, openapi_url=None, asyncapi_url=None)
produced = [0]


@app.websocket("/subprotocols")
async def subprotocols(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="velocipy.check.b")
    await websocket.close()


@app.websocket("/close")
async def close(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close(4321, "checked reason")


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@app.post("/upload")
async def upload(request: Request) -> str:
    return str(len(await request.body()))


@app.get("/stream")
async def stream() -> StreamingResponse:
    produced[0] = 0

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            produced[0] += 1
            yield b"x" * CHUNK
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/produced")
async def produced_count() -> str:
    return str(produced[0])
