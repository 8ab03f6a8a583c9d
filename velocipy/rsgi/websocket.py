"""RSGI WebSocket: granian's transport behind the neutral WebSocket state machine."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from velocipy.datastructures import Address
from velocipy.exceptions import WebSocketDisconnect
from velocipy.rsgi.http import RSGIConnection, parse_address
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.mounts import MountedASGIApp

logger = logging.getLogger("velocipy")

NO_STATUS = 1005  # the client closed; RSGI does not say with which code

_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Log a limitation of the RSGI protocol once per process."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


class RSGIWebSocket(RSGIConnection, WebSocket):
    __slots__ = ("_protocol", "_scope", "_transport")

    _transport_errors = (RuntimeError,)  # granian's RSGIProtocolClosed: the connection dropped

    negotiates_subprotocols = False

    def __init__(self, app: Application, scope: Any, protocol: Any) -> None:
        super().__init__(app, scope.path)
        self._scope = scope
        self._protocol = protocol
        self._transport: Any = None

    def _read_scheme_and_server(self) -> tuple[str, Address | None]:
        # granian says "http"/"https" for WebSockets too.
        scheme = "wss" if self._scope.scheme == "https" else "ws"
        return scheme, parse_address(self._scope.server)

    def release(self) -> None:
        """Drop granian's transport so the server can finish the connection."""
        self._transport = None
        self._transport_receive = _released

    async def _transport_accept(self, subprotocol: str | None) -> None:
        if subprotocol is not None:
            warn_once(
                "subprotocol",
                "RSGI cannot negotiate WebSocket subprotocols: accept(subprotocol=...) is "
                "ignored and no Sec-WebSocket-Protocol is sent (browsers that offered one "
                "fail the handshake). Serve the app over ASGI to use subprotocols.",
            )
        self._transport = await self._protocol.accept()
        self._transport_receive = self._transport.receive

    def _transport_data(self, message: Any) -> str | bytes:
        if message.kind == 0:
            raise WebSocketDisconnect(NO_STATUS)
        return message.data  # type: ignore[no-any-return]

    def _transport_send(self, data: str | bytes) -> Awaitable[None]:
        if isinstance(data, str):
            return self._transport.send_str(data)  # type: ignore[no-any-return]
        return self._transport.send_bytes(data)  # type: ignore[no-any-return]

    async def _transport_close(self, code: int, reason: str) -> None:
        if code != 1000 or reason:
            warn_once(
                "close-code",
                "RSGI cannot send WebSocket close codes or reasons: clients see 1005 (no "
                f"status) instead of {code}. Serve the app over ASGI to send close codes.",
            )
        self.release()
        self._protocol.close(None)

    async def _transport_forward(self, mount: MountedASGIApp) -> None:
        from velocipy.rsgi.asgi_bridge import bridge_websocket  # it imports this module

        await bridge_websocket(self, mount)

    async def _transport_reject(
        self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        # Before accept: an HTTP status, never a close code; RSGI sends no headers or body.
        self._protocol.close(status)


def _released() -> NoReturn:
    """What receiving reads once granian's transport was let go: the connection is over."""
    raise WebSocketDisconnect(NO_STATUS)
