"""AsyncAPI 3.0 for WebSocket routes, and typed messages closed with 1007 on a mismatch."""

from typing import Annotated, Any, Literal

import msgspec
import pytest

from velocipy import Depends, Header, VelociPy, WebSocket
from velocipy.testing import WebSocketClosed


class Move(msgspec.Struct, forbid_unknown_fields=True):
    """A player's move."""

    x: Annotated[int, msgspec.Meta(ge=0, le=2)]
    y: Annotated[int, msgspec.Meta(ge=0, le=2)]


class Board(msgspec.Struct):
    """The board after a move."""

    cells: list[list[Literal["", "X", "O"]]]


async def player(nick: str, x_team: Annotated[str | None, Header()] = None) -> str:
    return nick


def make_app(**settings: Any) -> VelociPy:
    app = VelociPy(title="Games", version="3.0", **settings)

    @app.websocket("/games/{game_id:int}", receives=Move, sends=Board, tags=["games"])
    async def play(websocket: WebSocket, who: Annotated[str, Depends(player)]) -> None:
        """Play tic-tac-toe.

        Send moves, receive the board.
        """
        await websocket.accept()
        board = [["" for _ in range(3)] for _ in range(3)]
        async for move in websocket.iter_json():
            board[move.y][move.x] = "X"
            await websocket.send_json(msgspec.to_builtins(Board(board)))

    @app.websocket("/raw")
    async def raw(websocket: WebSocket) -> None:
        await websocket.accept()
        move = await websocket.receive_json(type=Move)
        await websocket.send_text(f"{move.x},{move.y}")
        anything = await websocket.receive_json()
        await websocket.send_json(anything)

    @app.websocket("/untyped")
    async def untyped(ws):  # type: ignore[no-untyped-def]
        await ws.accept()

    @app.get("/http")
    async def http() -> str:
        return "not a channel"

    return app


def test_the_document_describes_channels_operations_and_messages() -> None:
    document = make_app().asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "Games", "version": "3.0"}
    assert set(document["channels"]) == {"play", "raw", "untyped"}
    play = document["channels"]["play"]
    assert play["address"] == "/games/{game_id}"
    assert play["summary"] == "Play tic-tac-toe."
    assert play["description"] == "Send moves, receive the board."
    assert play["parameters"] == {"game_id": {"description": "path parameter game_id"}}
    assert play["bindings"]["ws"]["query"] == {
        "type": "object",
        "properties": {"nick": {"type": "string"}},
        "required": ["nick"],
    }
    assert play["bindings"]["ws"]["headers"]["properties"] == {"x-team": {"type": "string"}}
    assert play["messages"] == {
        "Move": {"$ref": "#/components/messages/Move"},
        "Board": {"$ref": "#/components/messages/Board"},
    }
    assert play["tags"] == [{"name": "games"}]
    assert document["operations"] == {
        "play_receive": {
            "action": "receive",
            "channel": {"$ref": "#/channels/play"},
            "messages": [{"$ref": "#/channels/play/messages/Move"}],
        },
        "play_send": {
            "action": "send",
            "channel": {"$ref": "#/channels/play"},
            "messages": [{"$ref": "#/channels/play/messages/Board"}],
        },
    }
    components = document["components"]
    assert components["messages"]["Move"] == {
        "name": "Move",
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/Move"},
        "examples": [{"payload": {"x": 0, "y": 0}}],  # filled from the schema
        "summary": "A player's move.",
    }
    move_schema = components["schemas"]["Move"]
    assert move_schema["properties"]["x"] == {"type": "integer", "minimum": 0, "maximum": 2}
    assert move_schema["additionalProperties"] is False


def test_served_at_asyncapi_json_and_switchable_off(client_for: Any) -> None:
    app = make_app()
    served = client_for(app).get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == app.asyncapi()
    assert client_for(make_app(asyncapi_url=None)).get("/asyncapi.json").status_code == 404
    assert "/games/{game_id}" not in app.openapi()["paths"]  # WebSockets are not in OpenAPI


def _expect_1007(closed: Any, protocol: str) -> bool:
    """RSGI cannot send close codes (clients see 1005, no reason); ASGI sends 1007 and why."""
    if protocol == "rsgi":
        return bool(closed.code == 1005)
    return bool(closed.code == 1007 and closed.reason.startswith("invalid message: "))


def test_declared_messages_are_validated_and_a_mismatch_closes_with_1007(
    client_for: Any, protocol: str
) -> None:
    client = client_for(make_app())
    with client.websocket_connect("/games/1?nick=ada") as ws:
        ws.send_json({"x": 1, "y": 2})
        assert ws.receive_json()["cells"][2][1] == "X"
        ws.send_json({"x": 7, "y": 0})
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive_text()
    assert _expect_1007(closed.value, protocol)
    assert protocol == "rsgi" or "$.x" in closed.value.reason


def test_receive_json_with_a_type(client_for: Any, protocol: str) -> None:
    client = client_for(make_app())
    with client.websocket_connect("/raw") as ws:
        ws.send_json({"x": 0, "y": 1})
        assert ws.receive_text() == "0,1"
        ws.send_json({"free": ["form"]})  # no type: any JSON
        assert ws.receive_json() == {"free": ["form"]}
    with client.websocket_connect("/raw") as ws:
        ws.send_json({"x": 0, "y": 1, "z": 5})
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive_text()
    assert _expect_1007(closed.value, protocol)
    assert protocol == "rsgi" or "z" in closed.value.reason


def test_an_unvalidatable_message_type_is_refused_at_registration() -> None:
    class Opaque:
        pass

    app = VelociPy()
    with pytest.raises(TypeError, match=r"receives=.*msgspec cannot validate it"):

        @app.websocket("/x", receives=Opaque)
        async def handler(websocket: WebSocket) -> None:
            pass
