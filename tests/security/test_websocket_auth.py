"""WebSocket authentication in process, on ASGI and RSGI: tickets, first message, Channels."""

from typing import Annotated, Any

import pytest

from velocipy import Depends, VelociPy, WebSocket
from velocipy.channels import Channels
from velocipy.security import WebSocketTickets, authenticate_first_message
from velocipy.stores.memory import MemoryStore
from velocipy.testing import WebSocketClosed, WebSocketDenied


def _app() -> tuple[VelociPy, WebSocketTickets]:
    app = VelociPy()
    tickets = WebSocketTickets(MemoryStore(), ttl=30)
    channels = Channels("memory", app=app)

    @app.post("/ticket/{name}")
    async def ticket(name: str) -> dict[str, str]:
        return {"ticket": await tickets.issue({"user": name})}

    @app.websocket("/room")
    async def room(websocket: WebSocket, user: Annotated[dict[str, Any], Depends(tickets)]) -> None:
        await websocket.accept()
        await channels.join(websocket, "room", receive_own=False)
        async for text in websocket.iter_text():
            # Channels code is given the socket: the user who opened it is on its state.
            author = websocket.state.user["user"]
            await channels.publish("room", f"{author}: {text}", sender=websocket)

    @app.websocket("/first")
    async def first(websocket: WebSocket) -> None:
        def check(message: Any) -> str | None:
            return (
                {"letmein": "ada"}.get(message.get("token")) if isinstance(message, dict) else None
            )

        user = await authenticate_first_message(websocket, check, timeout=0.5)
        await websocket.send_text(f"hello {user} ({websocket.state.user})")

    return app, tickets


def _path(client: Any, name: str) -> str:
    return f"/room?ticket={client.post(f'/ticket/{name}').json()['ticket']}"


def test_ticketed_sockets_carry_their_user_into_channels(client_for: Any) -> None:
    app, _ = _app()
    client = client_for(app)
    with client.websocket_connect(_path(client, "ada")) as ada:
        with client.websocket_connect(_path(client, "bob")) as bob:
            ada.send_text("hi bob")
            assert bob.receive_text() == "ada: hi bob"
            bob.send_text("hi ada")
            assert ada.receive_text() == "bob: hi ada"


def test_a_ticket_is_single_use_and_expires(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = _app()
    client = client_for(app)
    path = _path(client, "ada")
    with client.websocket_connect(path):
        pass
    with pytest.raises(WebSocketDenied) as reused:
        client.websocket_connect(path).__enter__()
    assert reused.value.status_code == 403
    import time

    stale = _path(client, "ada")
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 31)  # past the 30 s ttl
    with pytest.raises(WebSocketDenied):
        client.websocket_connect(stale).__enter__()


def test_first_message_authentication(client_for: Any) -> None:
    app, _ = _app()
    client = client_for(app)
    with client.websocket_connect("/first") as ws:
        ws.send_json({"token": "letmein"})
        assert ws.receive_text() == "hello ada (ada)"
    reasons = {
        "wrong": "authentication failed",
        "not json": "authentication failed: the first message must be JSON",
        "silent": "authentication timed out: send credentials first",
    }
    for case, reason in reasons.items():
        with client.websocket_connect("/first") as ws:
            if case == "wrong":
                ws.send_json({"token": "wrong"})
            elif case == "not json":
                ws.send_text("{")
            with pytest.raises(WebSocketClosed) as closed:
                ws.receive_text()
            if client.interface == "asgi":
                assert (closed.value.code, closed.value.reason) == (1008, reason)
            else:  # RSGI carries no close code or reason (rsgi.md): the client sees 1005
                assert (closed.value.code, closed.value.reason) == (1005, "")


def test_ticket_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="ttl must be positive"):
        WebSocketTickets(MemoryStore(), ttl=0)
    assert repr(WebSocketTickets(MemoryStore())) == "WebSocketTickets(ttl=30.0)"
