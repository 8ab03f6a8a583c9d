"""WebSocket routes for the hardening suites: an echo (Autobahn), a flood (D5) and a sender that
must share the event loop.

``VELOCIPY_TEST_WS_MAX`` sets ``ws_max_message_size`` (default: the framework's 1 MiB);
``VELOCIPY_HOSTILE_MARKERS`` names the directory the flood writes its outcome into.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from velocipy import VelociPy, WebSocket, WebSocketDisconnect

FLOOD_FRAMES = 20_000
_limit = os.environ.get("VELOCIPY_TEST_WS_MAX")
app = VelociPy(ws_max_message_size=int(_limit)) if _limit else VelociPy()


@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        await ws.send(await ws.receive())


@app.websocket("/flood/{name}")
async def flood(ws: WebSocket) -> None:
    """Sends 64 KiB frames and never receives; records how far it got once the peer left."""
    await ws.accept()
    name = ws.path_params["name"]
    sent = 0
    outcome = "finished"
    try:
        while sent < FLOOD_FRAMES:
            await ws.send_bytes(b"x" * 65536)
            sent += 1
    except WebSocketDisconnect as exc:
        outcome = f"disconnect {exc.code}"
    _record(name, f"{outcome} after {sent}")


@app.websocket("/shares-the-loop")
async def shares_the_loop(ws: WebSocket) -> None:
    """Sends 4 MiB in 1 KiB frames, never receiving, and reports how often another task ran."""
    await ws.accept()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(0)  # the ticker starts
    ticks = 0
    for _ in range(4096):
        await ws.send_bytes(b"x" * 1024)
    await ws.send_text(f"ticks {ticks}")
    ticker.cancel()
    await ws.close()


def _record(name: str, text: str) -> None:
    directory = os.environ.get("VELOCIPY_HOSTILE_MARKERS")
    if directory:
        Path(directory, name).write_text(text)
