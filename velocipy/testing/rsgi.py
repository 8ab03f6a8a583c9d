"""Drive an app through its RSGI entry points, the way granian 2.8.7 does."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import StreamNotReleased, TransportNotReleased, WorkerCrash
from .loop import LoopThread
from .messages import Closed, Denied, Finished, RequestSpec, ResponseData
from .rsgi_fakes import (
    RSGI_VERSION,
    CrashLatch,
    HTTPExchange,
    HTTPProtocol,
    RSGIHeaders,
    RSGIHTTPScope,
    RSGIWebsocketScope,
    WebsocketProtocol,
)
from .websocket import WebSocketChannel

logger = logging.getLogger("velocipy.testing")


def _host_port(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RSGIDriver:
    """Builds granian-like scopes and protocol objects and calls ``app.__rsgi__``."""

    def __init__(self, app: Any, *, raise_server_exceptions: bool, stream_timeout: float) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.stream_timeout = stream_timeout
        self._target: Callable[[Any, Any], Awaitable[None]] = getattr(app, "__rsgi__", app)

    # lifespan: granian calls both hooks synchronously with the worker's loop not running

    def start(self, loop: LoopThread, timeout: float) -> None:
        init = getattr(self.app, "__rsgi_init__", None)
        if init is not None:
            init(loop.loop)
        loop.start()

    def stop(self, loop: LoopThread, timeout: float) -> None:
        loop.stop()
        delete = getattr(self.app, "__rsgi_del__", None)
        if delete is not None:
            delete(loop.loop)

    # scopes

    def _scope(self, request: RequestSpec, proto: str) -> RSGIHTTPScope | RSGIWebsocketScope:
        kind = RSGIHTTPScope if proto == "http" else RSGIWebsocketScope
        return kind(
            proto=proto,
            rsgi_version=RSGI_VERSION,
            http_version="1.1",
            server=_host_port(request.server),
            client=_host_port(request.client),
            scheme=request.scheme,
            method=request.method if proto == "http" else "GET",
            path=request.path,
            query_string=request.query_string.decode("latin-1"),
            authority=None,
            headers=RSGIHeaders(request.headers),
        )

    async def _call_app(self, scope: Any, protocol: Any, latch: CrashLatch) -> None:
        """Await the app; a worker-killing call ends it at once, even if the app catches it."""
        task = asyncio.ensure_future(self._target(scope, protocol))
        crashed = asyncio.ensure_future(latch.event.wait())
        try:
            await asyncio.wait({task, crashed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            crashed.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
        if latch.crash is not None:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: the worker is gone anyway
            raise latch.crash
        task.result()

    # HTTP

    async def http(self, request: RequestSpec) -> ResponseData:
        latch = CrashLatch()
        exchange = HTTPExchange(list(request.body), latch)
        error: Exception | None = None
        try:
            await self._call_app(self._scope(request, "http"), HTTPProtocol(exchange), latch)
        except WorkerCrash:
            raise
        except Exception as exc:
            error = exc
        try:
            if error is None and exchange.streaming:
                await self._wait_stream_released(exchange, request)
        finally:
            exchange.connection_closed.set()
        if error is not None:
            if self.raise_server_exceptions:
                raise error
            logger.error("Application callable raised an exception", exc_info=error)
            error = None  # granian drops it, and with it every reference to a stream transport
        return self._response(exchange, request.method == "HEAD")

    async def _wait_stream_released(self, exchange: HTTPExchange, request: RequestSpec) -> None:
        if not exchange.stream_released.is_set():
            await asyncio.sleep(0)
            gc.collect()
        try:
            await asyncio.wait_for(exchange.stream_released.wait(), self.stream_timeout)
        except TimeoutError:
            raise StreamNotReleased(
                f"{request.method} {request.path}: the app returned but its stream transport is "
                f"still referenced after {self.stream_timeout:g} s; under granian this response "
                "never ends (drop every reference to the transport when done)"
            ) from None

    @staticmethod
    def _response(exchange: HTTPExchange, head: bool) -> ResponseData:
        status = exchange.status
        if status is None or (100 <= status <= 199 and status != 101):
            return ResponseData(500, [("content-length", "0")], b"")  # never responded
        body = b"" if head or status == 101 else b"".join(exchange.parts)
        return ResponseData(status, exchange.headers, body)

    # WebSocket

    async def websocket(self, request: RequestSpec, channel: WebSocketChannel) -> Finished:
        latch = CrashLatch()
        protocol = WebsocketProtocol(channel, latch)
        error: Exception | None = None
        try:
            await self._call_app(self._scope(request, "ws"), protocol, latch)
        except Exception as exc:
            error = exc
            if not self.raise_server_exceptions:
                logger.error("Application callable raised an exception", exc_info=exc)
        if error is None and protocol.accepted and not protocol.transport_released:
            error = TransportNotReleased(
                "the WebSocket transport is still referenced after the handler returned; under "
                "granian the connection is not finished until it is released"
            )
        if not protocol.accepted:  # granian calls close(None) for the app: 403
            return Finished(error, denied=None if protocol.closed else Denied(403))
        if not protocol.closed and not channel.client_closed:
            return Finished(error, close=Closed(1005, ""))
        return Finished(error)
