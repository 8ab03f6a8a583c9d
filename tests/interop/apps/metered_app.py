"""Prometheus metrics at /ops/metrics, for tests/observability/test_prometheus_interop.py."""

from __future__ import annotations

import os
from typing import Any

from velocipy import VelociPy, WebSocket
from velocipy.channels import Channels
from velocipy.observability import Prometheus

app = VelociPy()
metrics = Prometheus(path="/ops/metrics")
app.add_instrument(metrics)
hub = Channels("memory", app=app, backlog=2, on_overflow="drop_oldest")
metrics.watch_channels(hub, interval=0.1)
idle: list[Any] = []


@app.get("/pid/{n}")
async def pid(n: int) -> dict[str, int]:
    return {"pid": os.getpid(), "n": n}


@app.post("/listen")
async def listen() -> dict[str, int]:
    subscription = hub.subscribe("slow")  # never read: it falls behind
    await subscription.__aenter__()
    idle.append(subscription)
    return {"pid": os.getpid()}


@app.post("/say")
async def say() -> dict[str, int]:
    await hub.publish("slow", "hi")
    return {"pid": os.getpid()}


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)
