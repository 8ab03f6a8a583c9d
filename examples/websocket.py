"""Every WebSocket pattern from the docs page, in one runnable app.

Run it from the repository root on either server:

    uvicorn examples.websocket:app                      # ASGI
    granian --interface rsgi examples.websocket:app     # RSGI

then GET http://127.0.0.1:8000/ for the list of sockets, and talk to one with any client, e.g.
``python -m websockets ws://127.0.0.1:8000/ws``.

The handlers are the same on both servers. What RSGI cannot do (granian's RSGI protocol has no
field for it): negotiate a subprotocol (/chat), or send a close code and reason (clients see
1005). VelociPy logs a warning the first time a handler asks for either; use ASGI for those.
"""

from __future__ import annotations

from typing import Any

import msgspec

from velocipy import VelociPy, WebSocket
from velocipy.exceptions import WebSocketDisconnect, WebSocketException

# Messages above 64 KiB close the connection with 1009 (message too big); the default is 1 MiB.
app = VelociPy(ws_max_message_size=64 * 1024)


@app.get("/")
async def index() -> dict[str, Any]:
    """The WebSocket routes of this app, with what each one demonstrates."""
    sockets = [
        {"path": route.path, "about": (route.endpoint.__doc__ or "").strip().splitlines()[0]}
        for route in app.routes
        if route.kind == "websocket"
    ]
    return {"websockets": sockets}


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    """Echo every text message; the loop ends by itself when the client leaves."""
    await ws.accept()
    async for message in ws.iter_text():
        await ws.send_text(f"echo: {message}")
    # Returning without close() is fine: VelociPy closes with 1000 for you.


@app.websocket("/rooms/{room_id}")
async def room(ws: WebSocket) -> None:
    """Path parameters and handshake headers: send an x-client-name header to be named."""
    await ws.accept()
    room_id = ws.path_params["room_id"]
    client_name = ws.header("x-client-name", default="stranger")
    await ws.send_text(f"joined room {room_id} as {client_name}")
    async for text in ws.iter_text():
        await ws.send_text(f"[{room_id}] {text}")


class Move(msgspec.Struct):
    x: int
    y: int


@app.websocket("/game")
async def game(ws: WebSocket) -> None:
    """JSON in and out: each {"x": int, "y": int} move is validated and acknowledged."""
    await ws.accept()
    tick = 0
    async for data in ws.iter_json():  # decoded with the app's JSON adapter; bad JSON: 1007
        try:
            move = msgspec.convert(data, Move)
        except msgspec.ValidationError as exc:
            # Valid JSON of the wrong shape: 1007 too ("data inconsistent with the message").
            raise WebSocketException(code=1007, reason=str(exc)[:120]) from None
        tick += 1
        await ws.send_json({"ack": move, "tick": tick})  # Structs encode like dicts


@app.websocket("/bytes")
async def reverse_bytes(ws: WebSocket) -> None:
    """Binary frames: each one comes back reversed (a text frame here closes with 1003)."""
    await ws.accept()
    async for chunk in ws.iter_bytes():
        await ws.send_bytes(chunk[::-1])


@app.websocket("/chat")
async def chat(ws: WebSocket) -> None:
    """Subprotocol negotiation: offer "chat.v1" (ASGI only; RSGI cannot send one back)."""
    await ws.accept(subprotocol="chat.v1")
    await ws.send_text("protocol accepted")


@app.websocket("/guard")
async def guard(ws: WebSocket) -> None:
    """Closing with intent: "quit" closes with 1000, "kick" raises a 4000 WebSocketException."""
    await ws.accept()
    while True:
        text = await ws.receive_text()
        if text == "quit":
            await ws.close(code=1000, reason="client requested exit")
            return
        if text == "kick":
            # Escaping the handler, it closes the connection with this code and reason.
            raise WebSocketException(code=4000, reason="kicked by the guard")
        await ws.send_text(f"ok: {text}")


connections: set[WebSocket] = set()


@app.websocket("/broadcast")
async def broadcast(ws: WebSocket) -> None:
    """Fan-out: every text message goes to every other connected client (one process only)."""
    await ws.accept()
    connections.add(ws)
    try:
        async for message in ws.iter_text():
            for conn in list(connections):
                if conn is not ws and not conn.closed:
                    try:
                        await conn.send_text(message)
                    except WebSocketDisconnect:
                        connections.discard(conn)  # that client left mid-send
    finally:
        connections.discard(ws)
