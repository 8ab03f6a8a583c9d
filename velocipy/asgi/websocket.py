"""ASGI WebSocket: frames from ``receive``, frames and closes through ``send``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from velocipy.asgi.http import ASGIConnection
from velocipy.asgi.mount import mounted_scope
from velocipy.exceptions import WebSocketDisconnect
from velocipy.websockets import CONNECTION_LOST, WebSocket

YIELD_EVERY_BYTES = 256 * 1024

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.mounts import MountedASGIApp


class ASGIWebSocket(ASGIConnection, WebSocket):
    """ASGI WebSocket. Two servers' sends need help when a handler sends again and again
    without receiving (a send right after a receive needs none):

    - granian's ASGI ``send`` neither raises nor blocks once the peer is gone (uvicorn raises
      ``OSError``); it only queues ``websocket.disconnect`` for ``receive``. So from the second
      send in a row, while no task is receiving, one ``receive`` is kept pending in ``_peek``:
      each send checks it, and a later receive takes its message. It reads at most one message
      ahead (bounded memory).
    - uvicorn's ``send`` never yields to the event loop: such a handler would starve every
      other connection and never hear that its peer left. So every ``YIELD_EVERY_BYTES`` it
      sends, a send also yields (granian's sends, ASGI and RSGI, always do).
    """

    __slots__ = ("_peek", "_receive", "_scope", "_send", "_sent_since_receive", "_unyielded")

    _transport_errors = (OSError,)

    def __init__(self, app: Application, scope: dict[str, Any], receive: Any, send: Any) -> None:
        super().__init__(app, scope["path"])
        self._scope = scope
        self._receive = receive
        self._transport_receive = receive
        self._send = send
        self._peek: asyncio.Future[dict[str, Any]] | None = None
        self._sent_since_receive = False
        self._unyielded = 0  # bytes sent since a send last yielded to the event loop

    async def _transport_accept(self, subprotocol: str | None) -> None:
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", CONNECTION_LOST), message.get("reason"))
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    def _transport_data(self, message: dict[str, Any]) -> str | bytes:
        self._sent_since_receive = False
        if self._peek is not None:  # the read-ahead was taken (none is armed while receiving)
            self._peek = None
            self._transport_receive = self._receive
        if message["type"] == "websocket.receive":
            text = message.get("text")
            return text if text is not None else message.get("bytes") or b""
        raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))

    def _transport_send(self, data: str | bytes) -> Awaitable[None]:
        frame: dict[str, str | bytes]
        if isinstance(data, str):
            frame = {"type": "websocket.send", "text": data}
        else:
            frame = {"type": "websocket.send", "bytes": data}
        send = self._send  # PERF: read, then called (see WebSocket._next_message)
        if not self._sent_since_receive:
            # PERF: the first send after a receive (an echo, a reply) needs no watching: a
            # departure shows in the next receive, and that receive lets the loop run.
            self._sent_since_receive = True
            return send(frame)  # type: ignore[no-any-return]
        # A send after another without a receive between: watch for a departure (unless a
        # task is receiving: it hears of it), and yield now and then.
        if self._peek is not None or not self._receiving:
            self._watch_for_departure()
        self._unyielded += len(data)
        if self._unyielded >= YIELD_EVERY_BYTES:
            self._unyielded = 0
            return _send_and_yield(send(frame))
        return send(frame)  # type: ignore[no-any-return]

    def _watch_for_departure(self) -> None:
        """Keep one receive pending while no task receives; raise if it heard the peer leave."""
        peek = self._peek
        if peek is None:
            self._peek = peek = asyncio.ensure_future(self._receive())
            # the next receive takes it; a cancelled receive leaves it for the one after
            self._transport_receive = partial(asyncio.shield, peek)
        elif peek.done():
            message = peek.result()
            if message["type"] == "websocket.disconnect":
                code = message.get("code", CONNECTION_LOST)
                raise WebSocketDisconnect(code, message.get("reason"))

    def _transport_lost(self) -> None:
        self._drop_peek()

    async def _transport_close(self, code: int, reason: str) -> None:
        self._drop_peek()
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

    async def _transport_forward(self, mount: MountedASGIApp) -> None:
        await mount.app(mounted_scope(self._scope, mount, self), self._receive, self._send)

    def _drop_peek(self) -> None:
        # A task waiting in receive() owns the pending read: leave it, so that it ends with the
        # disconnect the server reports after our close, not with a CancelledError.
        if self._peek is not None and not self._receiving:
            self._peek.cancel()
            self._peek = None
            self._transport_receive = self._receive


async def _send_and_yield(sending: Awaitable[None]) -> None:
    await sending
    await asyncio.sleep(0)


__all__ = ["ASGIWebSocket"]
