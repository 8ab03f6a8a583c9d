"""A test app whose WebSocket routes declare their messages, for the ``/asyncapi`` page and
ws-probe's knowledge of the API."""

from typing import Annotated

import msgspec

from velocipy import VelociPy, WebSocket

app = VelociPy(title="Games", version="2.1")


class Move(msgspec.Struct, forbid_unknown_fields=True):
    """A move on the 3x3 board."""

    x: Annotated[int, msgspec.Meta(ge=0, le=2)]
    y: Annotated[int, msgspec.Meta(ge=0, le=2)]


class Played(msgspec.Struct):
    """A move someone played."""

    player: str
    move: Move


@app.websocket("/games/{game_id:int}", receives=Move, sends=Played)
async def play(websocket: WebSocket, player: str = "anonymous") -> None:
    """Play a game: send moves, receive every move played."""
    await websocket.accept()
    async for move in websocket.iter_json():
        await websocket.send_json(msgspec.to_builtins(Played(player, move)))


@app.websocket("/liar", receives=Move, sends=Played)
async def liar(websocket: WebSocket) -> None:
    """Declares Played but sends something else (for ws-probe's checks)."""
    await websocket.accept()
    async for move in websocket.iter_json():
        await websocket.send_json({"player": move.x})


@app.websocket("/chat")
async def chat(websocket: WebSocket) -> None:
    """Declares no message types: anything goes (ws-probe has nothing to check)."""
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)
