"""httpx transports that call an app in process, through the same drivers as ``TestClient``.

``httpx.Client(transport=VelociPyTransport(app, "rsgi"), base_url="http://testserver")`` gives
a test everything httpx does (cookies, redirects, auth, multipart encoding, ``AsyncClient``)
while the app is driven exactly as ``TestClient`` drives it, RSGI fakes included. httpx is
imported only by this module: ``pip install httpx`` to use it.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

try:
    import httpx
except ImportError:  # pragma: no cover - httpx ships with the dev extra
    raise ImportError(
        "velocipy.testing.transport builds on httpx: pip install httpx "
        "(or use velocipy.testing.TestClient, which needs nothing extra)"
    ) from None

from .client import Interface, TestClient, spec_from_httpx

__all__ = ["AsyncVelociPyTransport", "VelociPyTransport"]


class VelociPyTransport(httpx.BaseTransport):
    """Serve an ``httpx.Client``'s requests from ``app``; ``with httpx.Client(...)`` runs
    lifespan. Options are ``TestClient``'s (``raise_server_exceptions``, ``timeout``...)."""

    def __init__(self, app: Any, interface: Interface = "asgi", **options: Any) -> None:
        self.client = TestClient(app, interface, **options)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        spec = spec_from_httpx(request, self.client)
        with self.client._running_loop() as loop:
            data = loop.run(
                self.client._driver.http(spec), self.client.timeout, f"{spec.method} {request.url}"
            )
        return httpx.Response(data.status, headers=data.headers, content=data.body)

    def __enter__(self) -> VelociPyTransport:
        self.client.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.client.__exit__(exc_type, exc, traceback)


class AsyncVelociPyTransport(httpx.AsyncBaseTransport):
    """The same for ``httpx.AsyncClient``: each call is awaited without blocking the test's loop."""

    def __init__(self, app: Any, interface: Interface = "asgi", **options: Any) -> None:
        self.sync = VelociPyTransport(app, interface, **options)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        spec = spec_from_httpx(request, self.sync.client)
        client = self.sync.client

        def run() -> httpx.Response:
            with client._running_loop() as loop:
                data = loop.run(client._driver.http(spec), client.timeout, spec.method)
            return httpx.Response(data.status, headers=data.headers, content=data.body)

        return await asyncio.to_thread(run)

    async def __aenter__(self) -> AsyncVelociPyTransport:
        await asyncio.to_thread(self.sync.__enter__)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await asyncio.to_thread(self.sync.__exit__, exc_type, exc, traceback)
