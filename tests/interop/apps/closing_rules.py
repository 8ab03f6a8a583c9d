"""A test app whose routes each trigger one WebSocket closing rule, served by real servers.

``ws_max_message_size`` is small (1 KiB) so the 1009 rule is cheap to hit. ``/sink`` records
what its handler received so the test can check, over HTTP, that nothing was lost.
"""

from __future__ import annotations

from typing import Any

from velocipy import VelociPy, WebSocket
from velocipy.exceptions import WebSocketDisconnect, WebSocketException

MAX_MESSAGE = 1024

app = VelociPy(ws_max_message_size=MAX_MESSAGE)

# session id -> what /sink received: the messages in arrival order and the disconnect code
sinks: dict[str, dict[str, Any]] = {}


@app.get("/health")
async def health() -> str:
    return "ok"


@app.websocket("/crash")
async def crash(ws: WebSocket) -> None:
    """An unhandled exception after accept: 1011, traceback logged once."""
    await ws.accept()
    raise RuntimeError(f"crash marker {ws.query_params.get('token')}")


@app.websocket("/crash-before-accept")
async def crash_before_accept(ws: WebSocket) -> None:
    raise RuntimeError(f"early crash marker {ws.query_params.get('token')}")


@app.websocket("/reject")
async def reject(ws: WebSocket) -> None:
    """Returning before accept refuses the handshake (403)."""
    if ws.header("x-token") == "let-me-in":
        await ws.accept()
        await ws.send_text("welcome")


@app.websocket("/forget")
async def forget(ws: WebSocket) -> None:
    """Returns without close(): the framework closes with 1000."""
    await ws.accept()
    await ws.send_text("leaving without close()")


@app.websocket("/close-custom")
async def close_custom(ws: WebSocket) -> None:
    await ws.accept()
    await ws.close(4000, "bye")


@app.websocket("/raise-custom")
async def raise_custom(ws: WebSocket) -> None:
    await ws.accept()
    raise WebSocketException(4001, "policy says no")


@app.websocket("/limits/text")
async def limits_text(ws: WebSocket) -> None:
    """Echoes JSON: binary -> 1003, invalid JSON -> 1007, over 1 KiB -> 1009."""
    await ws.accept()
    async for data in ws.iter_json():
        await ws.send_json(data)


@app.websocket("/limits/bytes")
async def limits_bytes(ws: WebSocket) -> None:
    """Echoes binary: text -> 1003, over 1 KiB -> 1009."""
    await ws.accept()
    async for data in ws.iter_bytes():
        await ws.send_bytes(data)


@app.websocket("/flood/{count:int}")
async def flood(ws: WebSocket) -> None:
    """Sends ``count`` numbered messages, then closes with 1000."""
    await ws.accept()
    for number in range(ws.path_params["count"]):
        await ws.send_text(str(number))
    await ws.close()


@app.websocket("/sink/{session}")
async def sink(ws: WebSocket) -> None:
    """Records every message until the client leaves (see GET /sink/{session})."""
    record: dict[str, Any] = {"messages": [], "disconnect_code": None}
    sinks[ws.path_params["session"]] = record
    await ws.accept()
    try:
        while True:
            record["messages"].append(await ws.receive_text())
    except WebSocketDisconnect as exc:
        record["disconnect_code"] = exc.code


@app.get("/sink/{session}")
async def sink_report(session: str) -> dict[str, Any]:
    record = sinks.get(session, {"messages": [], "disconnect_code": None})
    return {"messages": record["messages"], "disconnect_code": record["disconnect_code"]}
