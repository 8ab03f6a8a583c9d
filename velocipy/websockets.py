"""The neutral WebSocket: an explicit state machine over a transport the adapter provides.

States: CONNECTING (handshake pending) -> CONNECTED (accepted) -> CLOSED. Every call checks the
state and fails with a precise :class:`WebSocketStateError` when used out of order. A peer that
leaves surfaces as :class:`WebSocketDisconnect` from any receive or send. Frames of the wrong
kind (1003), invalid JSON (1007) and oversized messages (1009) close the connection with their
code and then raise ``WebSocketDisconnect`` so the handler's loop ends.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

from velocipy.exceptions import WebSocketDisconnect, WebSocketStateError
from velocipy.json import JSONDecodeError
from velocipy.requests import Connection

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["WebSocket", "WebSocketState"]


class WebSocketState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
# Codes a peer may put in a close frame (RFC 6455 7.4): 1000-1003, 1007-1014, 3000-4999.
SENDABLE_CLOSE_CODES = (
    frozenset(range(1000, 1004)) | frozenset(range(1007, 1015)) | frozenset(range(3000, 5000))
)


class WebSocket(Connection):
    """A WebSocket connection; adapters subclass it and implement the ``_transport_*`` hooks."""

    __slots__ = (
        "_accepted",
        "_close_callbacks",
        "_disconnect",
        "_message_type",
        "_receiving",
        "connection_state",
        "subprotocol",
    )

    #: False where the server cannot send ``Sec-WebSocket-Protocol`` (RSGI).
    negotiates_subprotocols: bool = True

    def __init__(self, app: Application, path: str) -> None:
        super().__init__(app, path)
        self.connection_state = WebSocketState.CONNECTING
        self.subprotocol: str | None = None
        self._receiving = False
        self._accepted = False
        # (code, reason) of how the connection ended; never the exception itself, whose
        # traceback would keep this object (and the server's transport) alive.
        self._disconnect: tuple[int, str] | None = None
        self._close_callbacks: list[Callable[[], object]] | None = None
        # What receive_json() validates messages into: the route's ``receives=`` type, if any.
        self._message_type: Any = None

    # --- what an adapter implements -------------------------------------------------------
    async def _transport_accept(self, subprotocol: str | None) -> None:
        raise NotImplementedError

    async def _transport_receive(self) -> str | bytes:
        """The next data message; raise ``WebSocketDisconnect`` when the peer is gone."""
        raise NotImplementedError

    async def _transport_send(self, data: str | bytes) -> None:
        """Send one frame; raise ``WebSocketDisconnect`` when the peer is gone."""
        raise NotImplementedError

    async def _transport_close(self, code: int, reason: str) -> None:
        raise NotImplementedError

    async def _transport_reject(
        self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """Refuse the handshake with an HTTP status (headers and body where the server can)."""
        raise NotImplementedError

    def offered_subprotocols(self) -> list[str]:
        """The subprotocols the client offered in ``Sec-WebSocket-Protocol``, in order."""
        offered: list[str] = []
        for value in self.headers.get_list("sec-websocket-protocol"):
            offered.extend(item.strip() for item in value.split(",") if item.strip())
        return offered

    # --- state ----------------------------------------------------------------------------
    @property
    def accepted(self) -> bool:
        """True once the handshake was accepted (and still true after the close)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        return self.connection_state is WebSocketState.CLOSED

    def call_on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once when this connection closes (either side, any reason).

        Helpers that outlive a ``receive()`` loop (channel memberships) use it to clean up.
        """
        if self.connection_state is WebSocketState.CLOSED:
            callback()
        elif self._close_callbacks is None:
            self._close_callbacks = [callback]
        else:
            self._close_callbacks.append(callback)

    def _run_close_callbacks(self) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, None
        for callback in callbacks or ():
            callback()

    # --- handshake ------------------------------------------------------------------------
    async def accept(self, subprotocol: str | None = None) -> None:
        """Accept the handshake, optionally choosing one of the client's subprotocols."""
        if self.connection_state is not WebSocketState.CONNECTING:
            raise WebSocketStateError(
                "accept() was already called on this WebSocket"
                if self.connection_state is WebSocketState.CONNECTED
                else "cannot accept(): this WebSocket is closed"
            )
        if subprotocol is not None and subprotocol not in self.offered_subprotocols():
            subprotocol = None  # not offered: answering with it would fail the client's handshake
        await self._transport_accept(subprotocol)
        self.subprotocol = subprotocol if self.negotiates_subprotocols else None
        self.connection_state = WebSocketState.CONNECTED
        self._accepted = True

    # --- receiving ------------------------------------------------------------------------
    async def receive(self) -> str | bytes:
        """The next message, text as ``str`` and binary as ``bytes``."""
        if self.connection_state is not WebSocketState.CONNECTED:
            self._raise_not_connected("receive")
        if self._receiving:
            raise WebSocketStateError(
                "another task is already waiting in receive(): read each WebSocket from one task"
            )
        self._receiving = True
        try:
            data = await self._transport_receive()
        except WebSocketDisconnect as exc:
            self._mark_disconnected(exc)
            raise
        finally:
            self._receiving = False
        limit = self.app.ws_max_message_size
        if len(data) > limit // 4 and _size(data) > limit:
            await self._fail(
                CLOSE_MESSAGE_TOO_BIG, f"message larger than the limit of {limit} bytes"
            )
        return data

    async def receive_text(self) -> str:
        data = await self.receive()
        if not isinstance(data, str):
            await self._fail(CLOSE_UNSUPPORTED_DATA, "expected a text frame, got binary")
        return data

    async def receive_bytes(self) -> bytes:
        data = await self.receive()
        if not isinstance(data, bytes):
            await self._fail(CLOSE_UNSUPPORTED_DATA, "expected a binary frame, got text")
        return data

    async def receive_json(self, type: Any = None) -> Any:
        """A text frame decoded with the app's JSON adapter; invalid JSON closes with 1007.

        With ``type`` (or the route's ``receives=``) the message is validated into it with
        msgspec (a Struct, a dataclass, a TypedDict, ``list[int]``...); a message that does
        not fit closes the connection with 1007 and the reason says why.
        """
        text = await self.receive_text()
        try:
            data = self.app.json.decode(text)
        except JSONDecodeError as exc:
            await self._fail(CLOSE_INVALID_PAYLOAD, f"invalid JSON: {exc}"[:120])
        target = self._message_type if type is None else type
        if target is None:
            return data
        try:
            return msgspec.convert(data, target)
        except msgspec.ValidationError as exc:
            await self._fail(CLOSE_INVALID_PAYLOAD, _cut(f"invalid message: {exc}"))

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client leaves (then the loop just ends)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self, type: Any = None) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json(type)
        except WebSocketDisconnect:
            return

    # --- sending --------------------------------------------------------------------------
    async def send(self, data: str | bytes) -> None:
        if self.connection_state is not WebSocketState.CONNECTED:
            self._raise_not_connected("send")
        try:
            await self._transport_send(data)
        except WebSocketDisconnect as exc:
            self._mark_disconnected(exc)
            raise

    async def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes str, not {type(data).__name__}")
        await self.send(data)

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}")
        await self.send(bytes(data))

    async def send_json(self, data: Any) -> None:
        """Encode with the app's JSON adapter and send as one text frame."""
        await self.send(self.app.json.encode(data).decode("utf-8"))

    # --- closing --------------------------------------------------------------------------
    async def close(self, code: int = CLOSE_NORMAL, reason: str | None = None) -> None:
        """Close with ``code`` and ``reason``; before accept this refuses the handshake (403).

        Closing a socket that is already closed does nothing, so cleanup code can always call it.
        """
        if self.connection_state is WebSocketState.CLOSED:
            return
        if self.connection_state is WebSocketState.CONNECTING:
            self.connection_state = WebSocketState.CLOSED
            if self._close_callbacks is not None:  # PERF: nothing to call unless a helper asked
                self._run_close_callbacks()
            await self._transport_reject(403)
            return
        if code not in SENDABLE_CLOSE_CODES:
            raise ValueError(
                f"close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"
            )
        reason = reason or ""
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("a close reason must fit in 123 bytes of UTF-8")
        self.connection_state = WebSocketState.CLOSED
        if self._close_callbacks is not None:
            self._run_close_callbacks()
        await self._transport_close(code, reason)

    async def refuse(
        self, status_code: int = 403, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """Refuse the handshake with an HTTP status (300-599) instead of accepting it.

        ASGI servers that offer the ``websocket.http.response`` extension (uvicorn, granian)
        send the headers and body too; RSGI can only send the status, with an empty body.
        """
        if self.connection_state is not WebSocketState.CONNECTING:
            raise WebSocketStateError("refuse() is only possible before accept()")
        if type(status_code) is not int or not 300 <= status_code <= 599:
            raise ValueError(f"refuse() takes an HTTP status 300-599, not {status_code}")
        self.connection_state = WebSocketState.CLOSED
        await self._transport_reject(status_code, headers, body)

    async def _fail(self, code: int, reason: str) -> NoReturn:
        """Close for a protocol-level problem and end the handler's loop."""
        await self.close(code, reason)
        self._disconnect = (code, reason)
        raise WebSocketDisconnect(code, reason)

    def _mark_disconnected(self, exc: WebSocketDisconnect) -> None:
        self.connection_state = WebSocketState.CLOSED
        self._disconnect = (exc.code, exc.reason)
        if self._close_callbacks is not None:
            self._run_close_callbacks()

    def _raise_not_connected(self, action: str) -> NoReturn:
        if self.connection_state is WebSocketState.CONNECTING:
            raise WebSocketStateError(f"cannot {action}() before accept(): await ws.accept() first")
        if self._disconnect is not None:
            raise WebSocketDisconnect(*self._disconnect)
        raise WebSocketStateError(f"cannot {action}(): this WebSocket is closed")

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.connection_state.value}>"


def _size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def _cut(reason: str) -> str:
    """A close reason within the 123 bytes a close frame allows (UTF-8, never mid-character)."""
    return reason.encode()[:123].decode("utf-8", "ignore")
