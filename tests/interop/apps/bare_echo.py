"""A bare WebSocket echo, ASGI and RSGI, no framework: the yardstick for the Autobahn suite."""

from __future__ import annotations

from typing import Any


class BareEcho:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "ws":
            protocol.response_empty(404, [])
            return
        transport = await protocol.accept()
        try:
            while True:
                message = await transport.receive()
                if message.kind == 0:
                    break
                if message.kind == 2:
                    await transport.send_str(message.data)
                else:
                    await transport.send_bytes(message.data)
        except RuntimeError:  # RSGIProtocolClosed
            pass
        finally:
            protocol.close()


app = BareEcho()
