"""A WebSocket route's handler as the app runs it: the closing rules, whatever it does.

The handler returns: close 1000. It raises ``WebSocketException``: that code and reason.
Anything else: 1011 (logged; re-raised in debug), or a refused handshake (403) for an
``HTTPException`` before ``accept()``. A client that already left is never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

import msgspec

from velocipy.error_answers import loggable
from velocipy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException
from velocipy.routing import RouteEntry
from velocipy.websockets import CLOSE_INTERNAL_ERROR, SENDABLE_CLOSE_CODES, WebSocket

__all__ = ["WebSocketHandler", "close_quietly", "run_websocket_handler", "validating_messages"]

logger = logging.getLogger("velocipy")

WebSocketHandler: TypeAlias = Callable[[WebSocket], Coroutine[Any, Any, None]]  # async functions


async def run_websocket_handler(
    websocket: WebSocket, entry: RouteEntry[WebSocketHandler], values: list[str], *, debug: bool
) -> None:
    """Run the route's handler (as the app's own task) and close by the rules above."""
    # The handler's exceptions end here, inside its task: a task that finished with one
    # would keep it, and its traceback would keep the server's transport alive.
    try:
        if values:
            websocket.path_params = entry.pattern.convert(values)
        await entry.endpoints["WS"](websocket)
    except WebSocketDisconnect:
        pass
    except WebSocketException as exc:
        await close_quietly(websocket, exc.code, exc.reason)
    except Exception as exc:
        if isinstance(exc, HTTPException) and not websocket.accepted:
            await close_quietly(websocket, 1008, "")
            return
        logger.error("Unhandled error in WebSocket %s", loggable(websocket.path), exc_info=exc)
        await close_quietly(websocket, CLOSE_INTERNAL_ERROR, "Internal error")
        if debug:
            raise
    else:
        await close_quietly(websocket, 1000, "")


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close (or refuse, before accept) without letting a departed peer raise."""
    try:
        await websocket.close(code, reason)
    except WebSocketDisconnect:
        pass
    except ValueError:  # WebSocketException with an unsendable code or an over-long reason
        code = code if code in SENDABLE_CLOSE_CODES else 1008
        await websocket.close(code, reason.encode()[:123].decode("utf-8", "ignore"))


def validating_messages(endpoint: WebSocketHandler, receives: Any) -> WebSocketHandler:
    """The route's ``receives=`` type becomes what ``receive_json()`` validates into."""
    try:
        msgspec.json.schema(receives)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"receives={receives!r}: msgspec cannot validate it ({exc})") from None

    async def with_message_type(websocket: WebSocket) -> None:
        websocket._message_type = receives
        await endpoint(websocket)

    return with_message_type
