"""ASGI WebSocket: frames from ``receive``, frames and closes through ``send``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from velocipy.asgi.http import ASGIConnection
from velocipy.exceptions import WebSocketDisconnect
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.application import Application

CONNECTION_LOST = 1006


class ASGIWebSocket(ASGIConnection, WebSocket):
    __slots__ = ("_receive", "_scope", "_send")

    def __init__(self, app: Application, scope: dict[str, Any], receive: Any, send: Any) -> None:
        super().__init__(app, scope["path"])
        self._scope = scope
        self._receive = receive
        self._send = send

    async def _transport_accept(self, subprotocol: str | None) -> None:
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", CONNECTION_LOST), message.get("reason"))
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def _transport_receive(self) -> str | bytes:
        message = await self._receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            return text if text is not None else message.get("bytes") or b""
        raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))

    async def _transport_send(self, data: str | bytes) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        try:
            await self._send({"type": "websocket.send", key: data})
        except OSError:
            raise WebSocketDisconnect(CONNECTION_LOST) from None

    async def _transport_close(self, code: int, reason: str) -> None:
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            raise WebSocketDisconnect(CONNECTION_LOST) from None

    async def _transport_reject(
        self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        if "websocket.http.response" not in self._scope.get("extensions", {}):
            # Without the denial extension ASGI servers answer a close before accept with 403.
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        encoded = [(name.encode("latin-1"), value.encode()) for name, value in headers]
        encoded.append((b"content-length", str(len(body)).encode()))
        start = {"type": "websocket.http.response.start", "status": status, "headers": encoded}
        await self._send(start)
        await self._send({"type": "websocket.http.response.body", "body": body})


__all__ = ["ASGIWebSocket"]
