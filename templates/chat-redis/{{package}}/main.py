"""The app: a chat page at `/` and the WebSocket it talks to at `/ws`, one room over Redis.

Every worker (on this machine or another) joins its sockets to the same Redis channel, so a
message sent to any worker reaches everyone. Set REDIS_URL (default redis://127.0.0.1:6379/0).

Protocol of `/ws` (connect to `/ws?name=Ada`; without a name you are `guest-xxxx`):
- the server sends you `{"type": "welcome", "name": ..., "worker": <pid>}` first;
- every text frame you send is a chat message; everyone (you included) receives
  `{"type": "message", "name": ..., "text": ...}`;
- others see `{"type": "joined" | "left", "name": ...}` as people come and go;
- a message that is too long gets `{"type": "error", "detail": ...}` back, to you only;
- a client too slow to keep up is closed with 1013 ("try again later"): reconnect.
"""

import os
import secrets
from importlib.resources import files

from velocipy import HTMLResponse, VelociPy, WebSocket
from velocipy.channels import Channels

MAX_MESSAGE_LENGTH = 1000
MAX_NAME_LENGTH = 32
ROOM = "chat"
PAGE = files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")


def clean_name(requested: str | None) -> str:
    """A display name: printable, trimmed to MAX_NAME_LENGTH characters (may come back empty)."""
    printable = "".join(char for char in requested or "" if char.isprintable())
    return printable.strip()[:MAX_NAME_LENGTH].strip()


def create_app(channels_url: str | None = None) -> VelociPy:
    """A new app whose room lives on `channels_url` (a redis:// URL, or "memory" for one process)."""
    app = VelociPy()
    channels = Channels(
        channels_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), app=app
    )

    @app.get("/")
    async def page() -> HTMLResponse:
        """The chat client: plain HTML and JavaScript, no build step."""
        return HTMLResponse(PAGE)

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        name = clean_name(ws.query_params.get("name")) or f"guest-{secrets.token_hex(2)}"
        # Own events come straight back from this handler; the room sends everyone else's.
        await channels.join(ws, ROOM, receive_own=False)
        await channels.publish(ROOM, {"type": "joined", "name": name}, sender=ws)
        await ws.send_json({"type": "welcome", "name": name, "worker": os.getpid()})
        try:
            async for text in ws.iter_text():
                text = text.strip()
                if not text:
                    continue
                if len(text) > MAX_MESSAGE_LENGTH:
                    detail = f"messages are limited to {MAX_MESSAGE_LENGTH} characters"
                    await ws.send_json({"type": "error", "detail": detail})
                    continue
                event = {"type": "message", "name": name, "text": text}
                await channels.publish(ROOM, event, sender=ws)
                await ws.send_json(event)
        finally:
            await channels.publish(ROOM, {"type": "left", "name": name}, sender=ws)

    return app


app = create_app()
