"""A room relay for real-server tests: every worker joins sockets to rooms through Channels.

VELOCIPY_TEST_CHANNELS picks the backend ("memory" or a redis:// URL); VELOCIPY_TEST_BACKLOG the
per-subscriber backlog; VELOCIPY_TEST_HISTORY the messages kept per channel (default 0: none).
"""

import os

from velocipy import VelociPy, WebSocket
from velocipy.channels import Channels

app = VelociPy()
channels = Channels(
    os.environ.get("VELOCIPY_TEST_CHANNELS", "memory"),
    app=app,
    backlog=int(os.environ.get("VELOCIPY_TEST_BACKLOG", "1000")),
    history=int(os.environ.get("VELOCIPY_TEST_HISTORY", "0")),
)


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.get("/rooms/{room}/members")
async def members(room: str) -> dict[str, int]:
    return {"members": channels.subscriber_count(room), "pid": os.getpid()}


@app.websocket("/rooms/{room}")
async def join_room(ws: WebSocket) -> None:
    """Receive the room (but not your own messages); what you send goes to the room."""
    await ws.accept()
    room = ws.path_params["room"]
    await channels.join(ws, room, receive_own=False)
    await ws.send_text("ready")
    async for text in ws.iter_text():
        if not await channels.publish(room, text, sender=ws):
            await ws.send_text(f"lost {text}")


@app.websocket("/publish/{room}")
async def publish_only(ws: WebSocket) -> None:
    """Publish each message to the room without joining it; answer "ok" after every batch."""
    await ws.accept()
    room = ws.path_params["room"]
    async for text in ws.iter_text():
        if text == "sync":
            await ws.send_text("ok")
        else:
            await channels.publish(room, text)


@app.post("/burst/{room}/{count}")
async def burst(room: str, count: int) -> dict[str, int]:
    """Publish ``count`` messages in one loop: nothing else runs in between on memory."""
    published = 0
    for n in range(count):
        published += await channels.publish(room, str(n))
    return {"published": published}


@app.websocket("/catch-up/{room}")
async def catch_up(ws: WebSocket) -> None:
    """Join with ``?after=<id>``; each frame is ``<id> <text>``."""
    await ws.accept()
    room = ws.path_params["room"]
    await channels.join(
        ws, room, last_id=ws.query_params.get("after"), render=lambda m: f"{m.id} {m.data}"
    )
    await ws.send_text("ready")
    async for _ in ws.iter_text():
        pass
