"""The app: a chat page at `/` and the WebSocket it talks to at `/ws`.

Joining takes two steps, which work the same on every server (ASGI and RSGI): `POST /ticket`
with `{"name": "Ada"}` answers `{"ticket": ...}`, a single-use pass valid for 30 seconds; then
open `/ws?ticket=...`. A socket without a valid ticket is refused (403). This is where your
login goes: check the caller's session or token in `ticket()`, and the socket knows who it is
(browsers cannot put an Authorization header on a WebSocket; a ticket in the URL works).

Protocol of `/ws` (without a name you are `guest-N`):
- the server sends you `{"type": "welcome", "name": ..., "online": [...]}` first;
- every text frame you send is a chat message; everyone (you included) receives
  `{"type": "message", "name": ..., "text": ...}`;
- others see `{"type": "joined" | "left", "name": ..., "online": [...]}` as people come and go;
- a message that is too long gets `{"type": "error", "detail": ...}` back, to you only.
"""

from importlib.resources import files
from typing import Annotated, Any

import msgspec
from velocipy import Depends, HTMLResponse, VelociPy, WebSocket
from velocipy.security import WebSocketTickets
from velocipy.stores.memory import MemoryStore

from .room import ChatRoom

MAX_MESSAGE_LENGTH = 1000
PAGE = files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")


class Join(msgspec.Struct):
    name: str = ""


def create_app() -> VelociPy:
    """A new app with an empty chat room (tests make one each, so rooms never leak)."""
    # Only pages served by this app may open its WebSocket: a page on another site would
    # otherwise connect with your visitors' cookies (cross-site WebSocket hijacking).
    app = VelociPy(websocket_origins=[])
    room = ChatRoom()
    # In this process's memory: one server process. With several workers, give the tickets a
    # shared store (velocipy.stores.redis.RedisStore), as the worker that issues a ticket is
    # rarely the one that serves the socket.
    tickets = WebSocketTickets(MemoryStore(), ttl=30)

    @app.get("/")
    async def page() -> HTMLResponse:
        """The chat client: plain HTML and JavaScript, no build step."""
        return HTMLResponse(PAGE)

    @app.post("/ticket")
    async def ticket(join: Join) -> dict[str, str]:
        """A single-use ticket for opening /ws as `name` (check who is asking here)."""
        return {"ticket": await tickets.issue({"name": join.name})}

    @app.websocket("/ws")
    async def chat(ws: WebSocket, user: Annotated[dict[str, Any], Depends(tickets)]) -> None:
        await ws.accept()
        name = room.join(ws, user.get("name"))
        try:
            await ws.send_json({"type": "welcome", "name": name, "online": room.online})
            await room.broadcast(
                {"type": "joined", "name": name, "online": room.online}, exclude=ws
            )
            async for text in ws.iter_text():
                text = text.strip()
                if not text:
                    continue
                if len(text) > MAX_MESSAGE_LENGTH:
                    detail = f"messages are limited to {MAX_MESSAGE_LENGTH} characters"
                    await ws.send_json({"type": "error", "detail": detail})
                    continue
                await room.broadcast({"type": "message", "name": name, "text": text})
        finally:
            room.leave(ws)
            await room.broadcast({"type": "left", "name": name, "online": room.online})

    return app


app = create_app()
