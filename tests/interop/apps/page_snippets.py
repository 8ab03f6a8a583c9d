"""The code snippets of docs/websockets.md (the seed page), pasted unchanged into one app.

Each snippet is copied verbatim, in page order. Two snippets start with their own
``app = VelociPy()``; the page means one app, so only the first creation is kept and the second
is left here as a comment (its import line stays). Nothing else is edited: the interop tests serve
this module with real servers to prove that the page's code runs as written.
"""

# ruff: noqa: E402, I001
# fmt: off

# --- "A simple echo den" ------------------------------------------------------------------
from velocipy import VelociPy, WebSocket

app = VelociPy()

@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            message = await ws.receive_text()
            await ws.send_text(f"echo: {message}")
    except Exception:
        await ws.close()

# --- "Reading the terrain: path params and headers" ---------------------------------------
@app.websocket("/rooms/{room_id}")
async def room(ws: WebSocket) -> None:
    await ws.accept()

    room_id = ws.path_params["room_id"]
    client_name = ws.header("x-client-name", default="stranger")

    await ws.send_text(f"joined room {room_id} as {client_name}")

    while True:
        text = await ws.receive_text()
        await ws.send_text(f"[{room_id}] {text}")

# --- "Binary and JSON frames" -------------------------------------------------------------
import msgspec

class Move(msgspec.Struct):
    x: int
    y: int

@app.websocket("/game")
async def game(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            move = await ws.receive_json()  # decoded with the app's JSON adapter
            await ws.send_json({"ack": move, "tick": 42})
    except Exception:
        await ws.close()

# --- "Subprotocol negotiation" ------------------------------------------------------------
@app.websocket("/chat")
async def chat(ws: WebSocket) -> None:
    await ws.accept(subprotocol="chat.v1")
    await ws.send_text("protocol accepted")

# --- "Closing with intent" ----------------------------------------------------------------
from velocipy.exceptions import WebSocketException

@app.websocket("/guard")
async def guard(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            if text == "quit":
                await ws.close(code=1000, reason="client requested exit")
                return
            await ws.send_text(f"ok: {text}")
    except WebSocketException as exc:
        await ws.close(code=exc.code, reason=exc.reason)

# --- "A small broadcast pack" -------------------------------------------------------------
from velocipy import VelociPy, WebSocket

# app = VelociPy()   <- the page's second app creation; one shared app is kept (see docstring)
connections: set[WebSocket] = set()

@app.websocket("/broadcast")
async def broadcast(ws: WebSocket) -> None:
    await ws.accept()
    connections.add(ws)
    try:
        while True:
            message = await ws.receive_text()
            for conn in list(connections):
                if conn is not ws and not conn.closed:
                    await conn.send_text(message)
    finally:
        connections.discard(ws)
        if not ws.closed:
            await ws.close()
