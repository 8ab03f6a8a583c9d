"""The JSON access log and request ids, for tests/observability/test_access_interop.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from velocipy import Body, StreamingResponse, VelociPy, WebSocket
from velocipy.observability import AccessLog, RequestIDFilter, current_request_id

app = VelociPy()
app.add_instrument(AccessLog("json"))

# the app's own log lines carry the request id too
handler_log = logging.getLogger("observed.handlers")
_handler = logging.StreamHandler()
_handler.setFormatter(logging.Formatter("handler-line id=%(request_id)s %(message)s"))
_handler.addFilter(RequestIDFilter())
handler_log.addHandler(_handler)
handler_log.setLevel(logging.INFO)
handler_log.propagate = False


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, object]:
    handler_log.info("reading item %s", item_id)
    return {"item_id": item_id, "request_id": current_request_id()}


@app.post("/echo")
async def echo(payload: dict[str, object] = Body()) -> dict[str, object]:
    return payload


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 1000

    return StreamingResponse(chunks(), media_type="text/plain")


@app.websocket("/ws/{room}")
async def room(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    message = await websocket.receive_text()
    handler_log.info("room %s got %s", room, message)
    await websocket.send_text(f"{room}:{message}")
    await websocket.close()


@app.websocket("/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


@app.websocket("/private")
async def private(websocket: WebSocket) -> None:
    await websocket.close()  # before accept: the handshake is refused (403)


@app.get("/endless")
async def endless() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield b"y" * 1000
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")
