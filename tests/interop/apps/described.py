"""A test app for dependencies, security and the AsyncAPI/OpenAPI documents on real servers.

``/events`` reports what the yield providers recorded, so a test can see over HTTP that the
teardown ran after the previous response was sent.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import msgspec

from velocipy import Depends, HTTPException, VelociPy, WebSocket
from velocipy.security import HTTPBearer

app = VelociPy(title="Described")
events: list[str] = []
bearer = HTTPBearer()


class Move(msgspec.Struct, forbid_unknown_fields=True):
    x: Annotated[int, msgspec.Meta(ge=0, le=2)]
    y: Annotated[int, msgspec.Meta(ge=0, le=2)]


async def session(label: str = "s") -> AsyncIterator[str]:
    events.append(f"open {label}")
    try:
        yield label
    except HTTPException as exc:
        events.append(f"rollback {label} after {exc.status_code}")
        raise
    else:
        events.append(f"close {label}")


@app.get("/work")
async def work(s: Annotated[str, Depends(session)], fail: bool = False) -> dict[str, str]:
    if fail:
        raise HTTPException(409, "conflict")
    return {"session": s}


@app.get("/events")
async def list_events() -> list[str]:
    return events


@app.get("/private", dependencies=[Depends(bearer)])
async def private() -> str:
    return "secret"


@app.websocket("/moves/{game}", receives=Move)
async def moves(websocket: WebSocket, s: Annotated[str, Depends(session)]) -> None:
    await websocket.accept()
    async for move in websocket.iter_json():
        await websocket.send_text(f"{s}:{move.x},{move.y}")
