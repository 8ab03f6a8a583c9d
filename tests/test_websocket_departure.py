"""D5 in process: on an ASGI server whose ``send`` never fails (granian ASGI), a handler that
only sends still gets ``WebSocketDisconnect`` once the server queues ``websocket.disconnect``.
tests/interop/test_websocket_hardening.py proves it on every real server."""

from __future__ import annotations

import asyncio
from typing import Any

from velocipy import VelociPy, WebSocket, WebSocketDisconnect


class SilentServer:
    """Like granian ASGI: ``send`` accepts frames for ever; only ``receive`` tells."""

    def __init__(self, vanish_after: int) -> None:
        self.vanish_after = vanish_after
        self.sent = 0
        self.gone = asyncio.Event()
        self.connected = False

    async def receive(self) -> dict[str, Any]:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        await self.gone.wait()
        return {"type": "websocket.disconnect", "code": 1005}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.sent += 1
            if self.sent == self.vanish_after:
                self.gone.set()


def test_a_sending_handler_learns_the_peer_left() -> None:
    app = VelociPy()
    outcome: list[Any] = []

    @app.websocket("/flood")
    async def flood(ws: WebSocket) -> None:
        await ws.accept()
        sent = 0
        try:
            while sent < 10_000:
                await ws.send_bytes(b"x" * 65536)
                sent += 1
        except WebSocketDisconnect as exc:
            outcome.append((exc.code, sent))

    server = SilentServer(vanish_after=10)
    scope = {"type": "websocket", "path": "/flood", "query_string": b"", "headers": []}
    asyncio.run(app(scope, server.receive, server.send))
    assert len(outcome) == 1
    code, sent = outcome[0]
    assert code == 1005
    assert 10 <= sent < 100


def test_a_message_read_ahead_is_not_lost() -> None:
    """The pending receive that watches for departure hands its message to the next receive."""
    app = VelociPy()
    got: list[str] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")  # starts the read-ahead
        got.append(await ws.receive_text())

    messages = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": []}
    asyncio.run(app(scope, receive, send))
    assert got == ["hi"]


class ClosingServer(SilentServer):
    """After the app's close, ``receive`` reports the disconnect (as uvicorn does)."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if message["type"] == "websocket.close":
            self.gone.set()


def test_a_close_from_another_task_ends_a_waiting_receive_with_a_disconnect() -> None:
    """A room member dropped by a broadcaster (channels' 1013) while its handler waits in
    receive: the handler sees WebSocketDisconnect, never a CancelledError from the read-ahead."""
    app = VelociPy()
    outcome: list[Any] = []

    @app.websocket("/member")
    async def member(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")  # starts the read-ahead: nobody is receiving yet

        async def drop_later() -> None:
            await asyncio.sleep(0)
            await ws.close(1013, "try again later")

        dropper = asyncio.ensure_future(drop_later())
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
        await dropper

    server = ClosingServer(vanish_after=10_000)
    scope = {"type": "websocket", "path": "/member", "query_string": b"", "headers": []}
    asyncio.run(app(scope, server.receive, server.send))
    assert outcome == [1005]
