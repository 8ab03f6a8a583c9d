"""A WebSocket app that keeps every socket it saw, as broadcast rosters do."""

from velocipy import VelociPy, WebSocket

app = VelociPy()
seen: set[WebSocket] = set()


@app.websocket("/ws")
async def echo_and_remember(ws: WebSocket) -> None:
    seen.add(ws)
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)
