"""Routes that close first, for the ws-probe shutdown tests (a 64 KiB message limit)."""

from __future__ import annotations

from velocipy import VelociPy, WebSocket, WebSocketException

app = VelociPy(ws_max_message_size=64 * 1024)


@app.websocket("/kick")
async def kick(ws: WebSocket) -> None:
    """Closes with 4000 after the first message (the docs' /guard, reduced)."""
    await ws.accept()
    await ws.receive_text()
    raise WebSocketException(code=4000, reason="kicked")


@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    """Echoes; a message over 64 KiB closes the connection with 1009."""
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)


@app.websocket("/soon")
async def soon(ws: WebSocket) -> None:
    """Sends one message, then closes normally a moment later without reading."""
    await ws.accept()
    await ws.send_text("hello")
    await ws.close(1000)
