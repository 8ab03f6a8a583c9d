"""Class-based endpoints: HTTP controllers and WebSocket listeners, compiled to routes.

A :class:`Controller` groups the routes of one resource: methods named after HTTP methods
(``get``, ``post``...) serve the controller's ``path``; methods marked with
``@route("/{item_id}", methods=["GET"])`` serve a path below it (there is no ``@get``
marker: inside a class that has a ``get`` method the name would be that method).
``dependencies``, ``tags`` and any other route option set on the class apply to every
route. ``app.include_router(Items.as_router())`` registers them.

A :class:`WebSocketListener` is one WebSocket route as three callbacks, ``on_connect``,
``on_receive`` (one message, validated into ``receives`` when set) and ``on_disconnect``.
``receives`` and ``sends`` describe the route in AsyncAPI.

Both are compiled when registered: each class is instantiated once, its bound methods are the
route handlers (the controller's) or are called by one handler function (the listener's), so a
request costs what it costs a function route. Keep per-request state in locals: the instance
is shared by every request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from velocipy.exceptions import WebSocketDisconnect
from velocipy.routers import HTTP_METHODS, APIRouter, RouteOptions
from velocipy.websockets import WebSocket  # the listener's handler annotation is resolved

if TYPE_CHECKING:
    from velocipy.dependencies import Depends

__all__ = ["Controller", "WebSocketListener", "route"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__velocipy_route__"


def route(
    path: str,
    methods: Sequence[str] = ("GET",),
    *,
    name: str | None = None,
    status_code: int | None = None,
    **options: Any,
) -> Callable[[F], F]:
    """Mark a controller method as the handler of ``methods`` on the controller's path +
    ``path``; ``options`` are route options (``summary``, ``responses``...)."""
    unknown = sorted({m.upper() for m in methods} - HTTP_METHODS)
    if unknown or not methods:
        raise ValueError(f"route {path!r}: unknown HTTP method(s) {unknown or list(methods)}")
    if path and not path.startswith("/"):
        raise ValueError(f"route path {path!r} must start with '/' (or be '')")

    def mark(method: F) -> F:
        marks = getattr(method, _MARK, [])
        marks.append((path, tuple(m.upper() for m in methods), name, status_code, options))
        setattr(method, _MARK, marks)
        return method

    return mark


class Controller:
    """The routes of one resource under ``path``; see the module's docstring.

    Class attributes: ``path`` (the prefix), ``dependencies`` (run before every route's
    handler), ``tags`` (OpenAPI), ``route_options`` (any other route option, for all routes).
    """

    path: ClassVar[str] = ""
    dependencies: ClassVar[Sequence[Depends]] = ()
    tags: ClassVar[Sequence[str]] = ()
    route_options: ClassVar[RouteOptions] = {}

    @classmethod
    def as_router(cls) -> APIRouter:
        """An ``APIRouter`` with every route of this controller (one instance serves them)."""
        if not cls.path.startswith("/") or (cls.path != "/" and cls.path.endswith("/")):
            raise ValueError(
                f"{cls.__qualname__}.path {cls.path!r} must start with '/' and not end with '/'"
            )
        prefix = "" if cls.path == "/" else cls.path
        router = APIRouter(prefix, dependencies=cls.dependencies, tags=cls.tags)
        instance = cls()
        found = False
        for attribute in dir(cls):
            function = getattr(cls, attribute)
            if not callable(function) or attribute.startswith("_"):
                continue
            handler = getattr(instance, attribute)
            base_name = f"{cls.__name__}.{attribute}"
            routes: list[tuple[str, tuple[str, ...], str, int | None, dict[str, Any]]] = []
            if attribute.upper() in HTTP_METHODS and attribute.islower():
                routes.append(("", (attribute.upper(),), base_name, None, {}))
            for index, (sub, methods, name, status, extra) in enumerate(
                getattr(function, _MARK, ())
            ):
                route_name = name or (base_name if index == 0 else f"{base_name}.{index}")
                routes.append((sub, methods, route_name, status, extra))
            for sub, methods, route_name, status, extra in routes:
                options: Any = {**cls.route_options, **extra}
                path = sub if prefix or sub else "/"
                router.add_route(
                    path, handler, methods, name=route_name, status_code=status, **options
                )
                found = True
        if not found:
            raise TypeError(
                f"controller {cls.__qualname__} has no routes: name methods after HTTP methods "
                "(get, post, ...) or mark them with @velocipy.endpoints.route(path, methods)"
            )
        return router


class WebSocketListener:
    """One WebSocket route as callbacks; see the module's docstring.

    ``encoding`` says what ``on_receive`` gets: ``"json"`` (decoded, and validated into
    ``receives`` when set; a message that does not fit closes with 1007), ``"text"`` or
    ``"bytes"``. ``on_connect`` accepts by default; closing there refuses the handshake.
    """

    path: ClassVar[str] = ""
    encoding: ClassVar[Literal["json", "text", "bytes"]] = "json"
    receives: ClassVar[Any] = None
    sends: ClassVar[Any] = None
    dependencies: ClassVar[Sequence[Depends]] = ()
    route_options: ClassVar[RouteOptions] = {}

    async def on_connect(self, websocket: WebSocket) -> None:
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """One message from the client."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """The connection ended (``close_code``: the client's, 1006 if it dropped, 1011 if a
        callback raised)."""

    @classmethod
    def as_handler(cls) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
        """The route handler: one function calling one instance's callbacks."""
        if cls.encoding not in ("json", "text", "bytes"):
            raise ValueError(f"{cls.__qualname__}.encoding must be json, text or bytes")
        if cls.receives is not None and cls.encoding != "json":
            raise TypeError(f"{cls.__qualname__}: receives= needs encoding = 'json'")
        listener = cls()
        on_connect, on_receive = listener.on_connect, listener.on_receive
        on_disconnect = listener.on_disconnect
        encoding = cls.encoding

        async def listen(websocket: WebSocket) -> None:
            await on_connect(websocket)
            if not websocket.accepted or websocket.closed:
                return  # refused (or finished) in on_connect
            receive = {
                "json": websocket.receive_json,
                "text": websocket.receive_text,
                "bytes": websocket.receive_bytes,
            }[encoding]
            code = 1011
            try:
                while True:
                    await on_receive(websocket, await receive())
            except WebSocketDisconnect as exc:
                code = exc.code
                raise
            finally:
                await on_disconnect(websocket, code)

        listen.__name__ = listen.__qualname__ = cls.__name__
        listen.__doc__ = cls.__doc__
        return listen

    @classmethod
    def as_router(cls) -> APIRouter:
        """An ``APIRouter`` with this listener's route at ``path``."""
        if not cls.path.startswith("/"):
            raise ValueError(f"{cls.__qualname__}.path {cls.path!r} must start with '/'")
        router = APIRouter(dependencies=cls.dependencies)
        options: dict[str, Any] = dict(cls.route_options)
        if cls.receives is not None:
            options["receives"] = cls.receives
        if cls.sends is not None:
            options["sends"] = cls.sends
        router.add_websocket_route(cls.path, cls.as_handler(), name=cls.__name__, **options)
        return router
