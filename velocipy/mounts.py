"""Mounting: a neutral handler or any ASGI application under a path prefix.

``app.mount("/static", StaticFiles(...))`` takes a neutral handler, ``handler(request) ->
Response``. ``app.mount("/graphql", strawberry_app)`` takes an ASGI application,
``app(scope, receive, send)`` (Strawberry, python-socketio, Starlette, FastAPI, another
VelociPy app). Which one it is, is decided here, once, at registration; anything else is
refused with a message saying what ``mount`` takes.

An ASGI application gets what Starlette's ``Mount`` and uvicorn's ``--root-path`` give it:
``root_path`` is the mount's prefix and ``path`` the full request path (a VelociPy app, which
routes on ``path`` alone, gets the path below the mount). Both the prefix itself
(``POST /graphql``) and everything under it reach the app, for HTTP and WebSocket. Its lifespan
runs inside the outer app's startup and shutdown, whichever server runs them.

The core only decides *that* a request goes to the mounted app: the route answers an
:class:`ASGIAppResponse` and a WebSocket calls its adapter's ``forward_to_asgi``. The adapters
hand over the connection: ASGI passes its own ``receive`` and ``send``; RSGI runs the app
through the bridge in :mod:`velocipy.rsgi.asgi_bridge`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from velocipy.responses import Response

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.requests import Request
    from velocipy.websockets import WebSocket

__all__ = [
    "CONNECTION_KEY",
    "ASGIApp",
    "ASGIAppResponse",
    "MountedASGIApp",
    "MountedHandler",
    "below_root_path",
    "handler_endpoint",
    "mount_kind",
]

logger = logging.getLogger("velocipy")

# (scope, receive, send): loose on purpose, so every ASGI library's own annotations fit.
ASGIApp: TypeAlias = Callable[[Any, Any, Any], Awaitable[None]]
# ``app.mount``'s other kind: a neutral handler, sync or async (``StaticFiles`` is one).
MountedHandler: TypeAlias = Callable[["Request"], Awaitable[Response] | Response]

#: The scope key under which a mounted app finds VelociPy's own Request or WebSocket (its
#: headers, ``app``, ``state``, session): what ``velocipy.contrib`` integrations read.
CONNECTION_KEY = "velocipy.connection"

MOUNT_TAKES = (
    "mount() takes a handler(request) -> Response (such as StaticFiles) or an ASGI "
    "application app(scope, receive, send) (Strawberry, python-socketio, Starlette, another "
    "VelociPy app)"
)


def mount_kind(target: object) -> Literal["handler", "asgi"]:
    """``"handler"`` for ``handler(request)``, ``"asgi"`` for ``app(scope, receive, send)``.

    Decided from the call signature: one positional argument is a neutral handler, three an
    ASGI 3 application. Anything else (not callable, a class, other arities, ``*args`` only)
    is a ``TypeError`` naming what mount takes.
    """
    if not callable(target) or isinstance(target, type):
        raise TypeError(f"{MOUNT_TAKES}; got {_describe(target)}")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        raise TypeError(
            f"{MOUNT_TAKES}; the signature of {_describe(target)} cannot be read"
        ) from None
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = sum(1 for p in positional if p.default is inspect.Parameter.empty)
    if required == 3 and len(positional) == 3:
        return "asgi"
    if required <= 1 <= len(positional):
        return "handler"
    raise TypeError(
        f"{MOUNT_TAKES}; {_describe(target)} takes {len(positional)} positional argument(s)"
    )


def _describe(target: object) -> str:
    if isinstance(target, type):
        return f"the class {target.__qualname__} (pass an instance)"
    return f"{type(target).__name__} {target!r}"[:200]


class ASGIAppResponse(Response):
    """What a mount's route answers: "hand this request to ``app`` under ``root_path``".

    Its own headers (set by middleware: CORS, a request id) are added to the headers the
    mounted app sends; status and body are the mounted app's.
    """

    __slots__ = ("mount",)

    kind = "asgi"

    def __init__(self, mount: MountedASGIApp) -> None:
        super().__init__(b"")
        self.mount = mount


class MountedASGIApp:
    """An ASGI application under ``prefix``: the route's endpoint, the WebSocket handler and
    the lifespan driver (startup and shutdown of the mounted app inside the outer app's)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        from velocipy.application import Application  # it imports this module

        self.app = app
        self.prefix = prefix
        #: A VelociPy app routes on ``path`` alone (checking ``root_path`` on every request
        #: would cost every route): it is given the path below the mount.
        self.routes_below = isinstance(app, Application)
        #: The mounted app's lifespan state, shallow-copied into each of its scopes.
        self.state: dict[str, Any] = {}
        self._lifespan: _LifespanDriver | None = None

    def scope_state(self) -> dict[str, Any]:
        return dict(self.state)

    def scope_path(self, path: str) -> str:
        """``path`` for the mounted app: the full path, or below the mount for a VelociPy app."""
        if self.routes_below and path.startswith(self.prefix):
            return path[len(self.prefix) :] or "/"
        return path

    # A plain function of one argument, the request: compiled like any other handler.
    def endpoint(self) -> Callable[[Request], Awaitable[Response]]:
        async def serve_mounted_asgi(request: Request) -> Response:
            return ASGIAppResponse(self)

        return serve_mounted_asgi

    def websocket_endpoint(self) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
        async def serve_mounted_asgi_websocket(websocket: WebSocket) -> None:
            await websocket.forward_to_asgi(self)

        return serve_mounted_asgi_websocket

    async def startup(self) -> None:
        self._lifespan = _LifespanDriver(self.app, self.state)
        await self._lifespan.startup()

    async def shutdown(self) -> None:
        driver, self._lifespan = self._lifespan, None
        if driver is not None:
            await driver.shutdown()


class _LifespanDriver:
    """Runs a mounted ASGI app's lifespan protocol as a task of the outer app's worker.

    An app that does not speak lifespan (it raises on the scope, as the spec allows) is
    served without it, as uvicorn's ``--lifespan auto`` does; ``startup.failed`` fails the
    outer startup with the app's message.
    """

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except BaseException as exc:  # reported through the outbox
            await self._outbox.put({"type": "velocipy.lifespan.raised", "error": exc})
            if not isinstance(exc, Exception):
                raise

    async def _step(self, step: str) -> None:
        assert self._task is not None
        await self._inbox.put({"type": f"lifespan.{step}"})
        getting = asyncio.ensure_future(self._outbox.get())
        done, _ = await asyncio.wait((getting, self._task), return_when=asyncio.FIRST_COMPLETED)
        if getting not in done:
            getting.cancel()
            self.supported = False
            return
        message = getting.result()
        if message["type"] == "velocipy.lifespan.raised":
            if step == "startup":
                logger.debug("mounted app %r has no lifespan: %r", self.app, message["error"])
                self.supported = False
                return
            raise message["error"]
        if message["type"] == f"lifespan.{step}.failed":
            raise RuntimeError(
                f"mounted app {self.app!r}: lifespan {step} failed: {message.get('message', '')}"
            )

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        await self._step("startup")

    async def shutdown(self) -> None:
        if self._task is None:
            return
        try:
            if self.supported and not self._task.done():
                await self._step("shutdown")
        finally:
            if not self._task.done():
                self._task.cancel()
            self._task = None


def below_root_path(app: ASGIApp) -> ASGIApp:
    """``app`` (a VelociPy app) as an ASGI app for another framework's mount or a server's
    ``--root-path``: its ``path`` is given without the ``root_path`` in front, which is what
    it routes on. (VelociPy's own ``mount`` does this by itself.)"""

    async def serve_below_root_path(scope: Any, receive: Any, send: Any) -> None:
        root = scope.get("root_path", "")
        path = scope.get("path")
        if root and path is not None and path.startswith(root):
            scope = {**scope, "path": path[len(root) :] or "/"}
        await app(scope, receive, send)

    return serve_below_root_path


def mount_asgi(app: Application, prefix: str, target: ASGIApp) -> MountedASGIApp:
    """Register ``target``'s lifespan under ``app``'s; the routes are the caller's."""
    mounted = MountedASGIApp(target, prefix)
    app.lifespan.on_startup.append(mounted.startup)
    app.lifespan.on_shutdown.insert(0, mounted.shutdown)
    return mounted


def handler_endpoint(handler: MountedHandler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a neutral handler mounted with ``app.mount``: it must answer a Response."""

    async def endpoint(request: Request) -> Response:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            raise TypeError(
                f"mounted handler {handler!r} returned {type(result).__name__}, not a Response"
            )
        return result

    return endpoint
