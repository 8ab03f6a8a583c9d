"""ASGI: the translation between an ASGI server (uvicorn, granian --interface asgi) and the core.

This package only translates: scope -> neutral ``Request``/``WebSocket``, ``receive`` -> body
chunks and frames, neutral ``Response`` -> ``send`` messages. Decisions live in the core.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from velocipy.asgi.http import ASGIRequest, complete_messages, send_response
from velocipy.asgi.websocket import ASGIWebSocket
from velocipy.responses import run_after_response

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["ASGIEntrypoint"]

logger = logging.getLogger("velocipy")
_new_object = object.__new__


class ASGIEntrypoint:
    """Makes an :class:`~velocipy.application.Application` an ASGI 3 callable."""

    async def __call__(self: Application, scope: dict[str, Any], receive: Any, send: Any) -> None:  # type: ignore[misc]
        kind = scope["type"]
        if kind == "http":
            # PERF: the request is filled in here, where it is made, not by an __init__ (a
            # frame: about 500 instructions a request); nothing else makes an ASGIRequest.
            request = _new_object(ASGIRequest)
            request.app = self
            request.method = scope["method"]
            request.path = scope["path"]
            request._scope = scope
            request._receive = receive
            handle_http = self.handle_http  # PERF: an instance attribute, read then called
            response = await handle_http(request)
            if response.kind == "bytes":
                start, body = complete_messages(response, request)
                await send(start)
                await send(body)
            else:
                await send_response(response, request, send)
            if response.background is not None:
                await run_after_response(response)
        elif kind == "websocket":
            await self.handle_websocket(ASGIWebSocket(self, scope, receive, send))
        elif kind == "lifespan":
            await _run_lifespan(self, receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")


async def _run_lifespan(app: Application, receive: Any, send: Any) -> None:
    """Answer the server's lifespan messages; a failing step is reported with its error."""
    for step, run in (("startup", app.startup), ("shutdown", app.shutdown)):
        await receive()  # lifespan.startup, then lifespan.shutdown
        try:
            await run()
        except BaseException as exc:
            logger.exception("Application %s failed", step)
            message = f"{type(exc).__name__}: {exc}"
            await send({"type": f"lifespan.{step}.failed", "message": message})
            return
        await send({"type": f"lifespan.{step}.complete"})
