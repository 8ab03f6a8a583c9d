"""Server-Timing's phases, for tests/observability/test_timing_interop.py.

A dependency sleeps 0.3 s (the ``params`` phase) and the handler 0.2 s (``handler``); a plain
``def`` handler sleeps 0.1 s in its thread. Routes come before and after the instrument.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import msgspec

from velocipy import Depends, HTMLResponse, VelociPy
from velocipy.observability import ServerTiming

DEPENDENCY_SECONDS = 0.3
HANDLER_SECONDS = 0.2
THREAD_SECONDS = 0.1

app = VelociPy()


class Order(msgspec.Struct):
    item: str
    quantity: int


async def slow_stock() -> int:
    await asyncio.sleep(DEPENDENCY_SECONDS)
    return 5


@app.post("/orders")  # registered before the instrument: built again with it
async def order(body: Order, stock: Annotated[int, Depends(slow_stock)]) -> dict[str, object]:
    await asyncio.sleep(HANDLER_SECONDS)
    return {"item": body.item, "left": stock - body.quantity}


app.add_instrument(ServerTiming())


@app.get("/report")  # registered after it
def report(rows: int = 3) -> dict[str, int]:
    time.sleep(THREAD_SECONDS)
    return {"rows": rows}


@app.get("/page")
async def page() -> HTMLResponse:
    await asyncio.sleep(HANDLER_SECONDS)
    return HTMLResponse("<!doctype html><title>timed</title><p>timed page</p>")
