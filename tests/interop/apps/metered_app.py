"""Prometheus metrics at /ops/metrics, for tests/observability/test_prometheus_interop.py."""

from __future__ import annotations

import os

from velocipy import VelociPy, WebSocket
from velocipy.observability import Prometheus

app = VelociPy()
app.add_instrument(Prometheus(path="/ops/metrics"))


@app.get("/pid/{n}")
async def pid(n: int) -> dict[str, int]:
    return {"pid": os.getpid(), "n": n}


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)
