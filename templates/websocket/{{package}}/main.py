"""The app: a chat page at `/` and the WebSocket it talks to at `/ws`.

Protocol of `/ws` (connect to `/ws?name=Ada`; without a name you are `guest-N`):
- the server sends you `{"type": "welcome", "name": ..., "online": [...]}` first;
- every text frame you send is a chat message; everyone (you included) receives
  `{"type": "message", "name": ..., "text": ...}`;
- others see `{"type": "joined" | "left", "name": ..., "online": [...]}` as people come and go;
- a message that is too long gets `{"type": "error", "detail": ...}` back, to you only.
"""

from importlib.resources import files

from velocipy import HTMLResponse, VelociPy, WebSocket

from .room import ChatRoom

MAX_MESSAGE_LENGTH = 1000
PAGE = files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")


def create_app() -> VelociPy:
    """A new app with an empty chat room (tests make one each, so rooms never leak)."""
    # Only pages served by this app may open its WebSocket: a page on another site would
    # otherwise connect with your visitors' cookies (cross-site WebSocket hijacking).
    app = VelociPy(websocket_origins=[])
    room = ChatRoom()

    @app.get("/")
    async def page() -> HTMLResponse:
        """The chat client: plain HTML and JavaScript, no build step."""
        return HTMLResponse(PAGE)

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        name = room.join(ws, ws.query_params.get("name"))
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
