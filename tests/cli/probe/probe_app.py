"""A VelociPy app the probe tests serve with real uvicorn and granian (RSGI)."""

from __future__ import annotations

from velocipy import VelociPy, WebSocket

app = VelociPy()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(f"echo: {text}")


@app.websocket("/json")
async def json_echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        data = await ws.receive_json()
        await ws.send_json({"got": data})


@app.websocket("/bytes")
async def bytes_reversed(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        data = await ws.receive_bytes()
        await ws.send_bytes(data[::-1])


@app.websocket("/rooms/{room_id}")
async def room(ws: WebSocket) -> None:
    offered = [name.strip() for name in ws.header("sec-websocket-protocol", "").split(",")]
    await ws.accept(subprotocol="chat.v1" if "chat.v1" in offered else None)
    await ws.send_json(
        {
            "room": ws.path_params["room_id"],
            "client": ws.header("x-client-name", "stranger"),
            "query": ws.query_string,
        }
    )
    async for text in ws.iter_text():
        await ws.send_text(f"[{ws.path_params['room_id']}] {text}")


@app.websocket("/bye")
async def bye(ws: WebSocket) -> None:
    await ws.accept()
    await ws.receive_text()
    await ws.close(4000, "see you")
