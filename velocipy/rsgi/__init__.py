"""RSGI: the translation between granian's RSGI interface and the core.

Read ``design/rsgi.md`` before changing anything here: several granian calls kill the worker
process when misused (a status outside 100-999, accept twice, a close code before accept).
The core never makes those calls possible: statuses are checked in the app, ``accept`` and
``close`` go through the WebSocket state machine, and a handshake is only refused with 403.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from velocipy.exceptions import StartupError
from velocipy.responses import run_after_response
from velocipy.rsgi.asgi_bridge import bridge_http
from velocipy.rsgi.http import RSGIRequest, send_file, send_stream
from velocipy.rsgi.websocket import RSGIWebSocket

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["RSGIEntrypoint"]

logger = logging.getLogger("velocipy")
_new_object = object.__new__


class RSGIEntrypoint:
    """Makes an :class:`~velocipy.application.Application` an RSGI application."""

    async def __rsgi__(self: Application, scope: Any, protocol: Any) -> None:  # type: ignore[misc]
        if scope.proto == "http":
            handle_http = self.handle_http  # PERF: an instance attribute, read then called
            # PERF: the request is filled in here, where it is made, not by an __init__ (a
            # frame: about 500 instructions a request); nothing else makes an RSGIRequest.
            request = _new_object(RSGIRequest)
            request.app = self
            request.method = scope.method
            request.path = scope.path
            request._scope = scope
            request._protocol = protocol
            response = await handle_http(request)
            kind = response.kind
            if kind == "bytes":  # PERF: granian's response_bytes is a plain call, no coroutine
                protocol.response_bytes(response.status_code, response.raw_headers, response.body)
            elif kind == "stream":
                failure = await send_stream(response, protocol, request.method == "HEAD")  # type: ignore[arg-type]
                if failure is not None:  # the body failed after the response started
                    await run_after_response(response, failure)
                    return
            elif kind == "file":
                send_file(response, protocol)  # type: ignore[arg-type]
            else:  # a mounted ASGI app answers itself, through the bridge
                await bridge_http(response, request)  # type: ignore[arg-type]
            if response.background is not None:
                await run_after_response(response)
        else:
            websocket = RSGIWebSocket(self, scope, protocol)
            try:
                await self.handle_websocket(websocket)
            finally:
                # granian finishes the connection when its transport is released: let go now,
                # even if the app keeps the WebSocket object (a broadcast set, say).
                websocket.release()

    def __rsgi_init__(self: Application, loop: asyncio.AbstractEventLoop) -> None:  # type: ignore[misc]
        """Granian calls this synchronously in each worker before serving (loop not running)."""
        if loop.is_running():  # the embedded server calls it from inside its loop
            loop.create_task(self.startup())
            return
        try:
            loop.run_until_complete(self.startup())
        except StartupError as exc:  # a configuration mistake its message explains
            logger.error("Application startup failed: %s", exc)
            raise
        except BaseException:
            logger.exception("Application startup failed")
            raise

    def __rsgi_del__(self: Application, loop: asyncio.AbstractEventLoop) -> None:  # type: ignore[misc]
        """Granian calls this synchronously in each worker after shutdown (loop stopped)."""
        if loop.is_running():
            loop.create_task(self.shutdown())
            return
        try:
            loop.run_until_complete(self.shutdown())
        except BaseException:
            logger.exception("Application shutdown failed")
