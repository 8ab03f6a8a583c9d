"""``AsyncTestClient.websocket_connect``: WebSockets from ``async def`` tests, ASGI and RSGI."""

from __future__ import annotations

import asyncio

import pytest

from velocipy import VelociPy, WebSocket
from velocipy.testing import AsyncTestClient, WebSocketClosed, WebSocketDenied


def chat_app() -> VelociPy:
    app = VelociPy()

    @app.websocket("/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat" if "chat" in ws.offered_subprotocols() else None)
        while True:
            message = await ws.receive_json()
            if message == "bye":
                await ws.close(4001, "bye")
                return
            await ws.send_json({"echo": message, "token": ws.header("x-token")})

    @app.websocket("/private")
    async def private(ws: WebSocket) -> None:
        await ws.close()  # refused before accept

    return app


async def talk(protocol: str) -> list[object]:
    seen: list[object] = []
    async with AsyncTestClient(chat_app(), protocol) as client:
        ws_context = client.websocket_connect(
            "/echo", headers={"x-token": "t1"}, subprotocols=["chat"]
        )
        async with ws_context as ws:
            seen.append(ws.subprotocol)
            # the test's own loop keeps running while the client waits
            ticker = asyncio.ensure_future(asyncio.sleep(0.01, "tick"))
            await ws.send_json({"n": 1})
            seen.append(await ws.receive_json())
            seen.append(await ticker)
            await ws.send_json("bye")
            with pytest.raises(WebSocketClosed) as closed:
                await ws.receive_text()
            seen.append(closed.value.code)
        with pytest.raises(WebSocketDenied) as denied:
            async with client.websocket_connect("/private"):
                pass
        seen.append(denied.value.status_code)
    return seen


def test_async_client_websocket_round_trip(protocol: str) -> None:
    seen = asyncio.run(talk(protocol))
    subprotocol = "chat" if protocol == "asgi" else None  # RSGI cannot echo one
    close_code = 4001 if protocol == "asgi" else 1005  # nor send a close code
    assert seen == [
        subprotocol,
        {"echo": {"n": 1}, "token": "t1"},
        "tick",
        close_code,
        403,
    ]
