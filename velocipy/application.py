"""The protocol-neutral application: registration API, the one dispatch path, error mapping.

Protocol adapters turn a server's call into a neutral ``Request`` or ``WebSocket`` and call
:meth:`Application.handle_http` or :meth:`Application.handle_websocket`. Everything that
decides what the client sees (404/405/413/422/500, WebSocket 1000/1011/403, debug re-raise)
happens here, once, for both protocols.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

from velocipy.datastructures import State
from velocipy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException
from velocipy.json import JSONAdapter, get_adapter
from velocipy.lifespan import Lifespan, LifespanFactory
from velocipy.params import Endpoint, compile_endpoint
from velocipy.requests import Request
from velocipy.responses import FileResponse, JSONResponse, Response
from velocipy.routers import HTTP_METHODS, APIRouter, RouteDecorators, register_definitions
from velocipy.routing import PathPattern, RouteInfo, RouteTable
from velocipy.websockets import CLOSE_INTERNAL_ERROR, SENDABLE_CLOSE_CODES, WebSocket

__all__ = ["Application"]

logger = logging.getLogger("velocipy")

WebSocketHandler: TypeAlias = Callable[[WebSocket], Awaitable[None]]
ExceptionHandler: TypeAlias = Callable[[Request, Any], Awaitable[Response] | Response]
Middleware: TypeAlias = Callable[
    [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]
]
M = TypeVar("M", bound=Middleware)
H = TypeVar("H", bound=ExceptionHandler)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INTERNAL_ERROR_BODY = b'{"detail":"Internal Server Error"}'


class Application(RouteDecorators):
    """Routes, handlers and settings; served over ASGI or RSGI by :class:`velocipy.VelociPy`."""

    def __init__(
        self,
        *,
        debug: bool | None = None,
        json_adapter: str | JSONAdapter = "msgspec",
        lifespan: LifespanFactory | None = None,
        on_startup: Sequence[Callable[[], Any]] = (),
        on_shutdown: Sequence[Callable[[], Any]] = (),
        max_body_size: int = 10 * 1024 * 1024,
        ws_max_message_size: int = 1024 * 1024,
    ) -> None:
        # Unset, debug follows VELOCIPY_DEBUG, which `velocipy run --debug` sets for the app.
        self.debug = _env_flag("VELOCIPY_DEBUG") if debug is None else debug
        self.json: JSONAdapter = get_adapter(json_adapter)
        self.max_body_size = max_body_size
        self.ws_max_message_size = ws_max_message_size
        self.state = State()
        self.lifespan = Lifespan(self, lifespan, on_startup, on_shutdown)
        self._http: RouteTable[Endpoint] = RouteTable()
        self._websockets: RouteTable[WebSocketHandler] = RouteTable()
        self._routes: list[RouteInfo] = []
        self._names: dict[str, tuple[PathPattern, Callable[..., Any]]] = {}
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = {}
        self._middleware: list[Middleware] = []
        self.handle_http: Callable[[Request], Awaitable[Response]] = self._dispatch_http

    # --- registration ---------------------------------------------------------------------
    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        *,
        name: str | None = None,
        status_code: int | None = None,
    ) -> None:
        methods = [m.upper() for m in methods]
        unknown = sorted(set(methods) - HTTP_METHODS)
        if unknown or not methods:
            raise ValueError(f"route {path!r}: unknown HTTP method(s) {unknown or methods}")
        endpoint, pattern = compile_endpoint(
            handler, PathPattern.parse(path), self.json, status_code
        )
        entry = self._http.entry_for(pattern)
        for method in methods:
            if method in entry.handlers:
                raise ValueError(
                    f"{method} {path} is already handled by {entry.handlers[method].__qualname__}"
                )
        self._remember_name(name or handler.__name__, pattern, handler)
        for method in methods:
            entry.endpoints[method] = endpoint
            entry.handlers[method] = handler
        if "GET" in methods and "HEAD" not in entry.handlers:
            entry.endpoints["HEAD"] = endpoint  # HEAD is GET without the body
        entry.allow = ", ".join(sorted(entry.endpoints))
        served = (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods
        self._routes.append(
            RouteInfo("http", path, tuple(served), name or handler.__name__, handler)
        )

    def add_websocket_route(
        self, path: str, handler: Callable[..., Any], *, name: str | None = None
    ) -> None:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"WebSocket handler {handler.__qualname__} must be an async function")
        pattern = PathPattern.parse(path)
        entry = self._websockets.entry_for(pattern)
        if "WS" in entry.endpoints:
            raise ValueError(
                f"WebSocket {path} is already handled by {entry.handlers['WS'].__qualname__}"
            )
        self._remember_name(name or handler.__name__, pattern, handler)
        entry.endpoints["WS"] = handler
        entry.handlers["WS"] = handler
        self._routes.append(RouteInfo("websocket", path, (), name or handler.__name__, handler))

    def _remember_name(self, name: str, pattern: PathPattern, handler: Callable[..., Any]) -> None:
        known = self._names.get(name)
        if known is not None and known[1] is not handler:
            raise ValueError(
                f"route name {name!r} is already used by {known[0].template!r}; "
                "pass name=... to tell the routes apart"
            )
        self._names[name] = (pattern, handler)

    def include_router(self, router: APIRouter, *, prefix: str = "") -> None:
        """Add every route of ``router`` (under ``prefix`` + the router's own prefix)."""
        register_definitions(self, router.definitions, prefix)

    @property
    def routes(self) -> list[RouteInfo]:
        """Every HTTP and WebSocket route, in registration order."""
        return list(self._routes)

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called ``name`` with ``params`` filled in."""
        try:
            pattern, _ = self._names[name]
        except KeyError:
            raise LookupError(f"no route is named {name!r}") from None
        return pattern.build(params)

    def exception_handler(self, exc_type: type[BaseException]) -> Callable[[H], H]:
        """Register ``handler(request, exc) -> Response`` for ``exc_type`` and its subclasses."""

        def decorator(handler: H) -> H:
            self._exception_handlers[exc_type] = handler
            return handler

        return decorator

    def middleware(self, func: Any = None) -> Any:
        """Register ``async def mw(request, call_next) -> Response`` (``@app.middleware`` or
        ``@app.middleware("http")``); the first registered runs outermost."""
        if func is None or isinstance(func, str):
            return self.middleware
        self._middleware.append(func)
        self._build_middleware_chain()
        return func

    def _build_middleware_chain(self) -> None:
        call: Callable[[Request], Awaitable[Response]] = self._dispatch_http
        for middleware in reversed(self._middleware):
            call = _bind_middleware(middleware, call)

        async def handle_with_middleware(request: Request) -> Response:
            try:
                response = await call(request)
            except Exception as exc:
                response = await self._response_for_error(request, exc)
            return self._finalize(request, response)

        self.handle_http = handle_with_middleware

    # --- lifespan -------------------------------------------------------------------------
    async def startup(self) -> None:
        """Run the lifespan startup (once per worker)."""
        await self.lifespan.startup()

    async def shutdown(self) -> None:
        await self.lifespan.shutdown()

    # --- HTTP dispatch --------------------------------------------------------------------
    async def _dispatch_http(self, request: Request) -> Response:
        try:
            entry = self._http.static.get(request.path)  # PERF: static paths skip the tree
            if entry is None:
                found = self._http.match_params(request.path)
                if found is None:
                    raise HTTPException(404)
                entry, values = found
                request._path_params = entry.pattern.convert(values)  # PERF: not the setter
            endpoint = entry.endpoints.get(request.method)
            if endpoint is None:
                raise HTTPException(405, headers={"allow": entry.allow})
            if request.method in _BODY_METHODS:
                request.check_declared_length()
            response = await endpoint(request)
        except Exception as exc:
            response = await self._response_for_error(request, exc)
        if (
            response.body is None
            or response.kind == "file"
            or type(response.status_code) is not int
            or not 200 <= response.status_code <= 999
        ):
            return self._finalize(request, response)
        return response

    def _finalize(self, request: Request, response: Response) -> Response:
        """Last checks before a response reaches a server: status range, JSON body, file."""
        status = response.status_code
        if type(status) is not int and _is_int(status):  # HTTPStatus and other int enums
            status = response.status_code = int(status)
        if type(status) is not int or not 200 <= status <= 999:
            logger.error(
                "%s %s: handler returned status %r; a final HTTP status must be 200-999",
                request.method,
                loggable(request.path),
                status,
            )
            return _internal_error()
        if isinstance(response, JSONResponse) and response.body is None:
            try:
                response.render_json(self.json.encode)
            except (TypeError, ValueError, UnicodeError):
                logger.exception(
                    "%s %s: response content is not JSON-serializable",
                    request.method,
                    loggable(request.path),
                )
                return _internal_error()
        elif isinstance(response, FileResponse):
            try:
                response.prepare()
            except OSError:
                return _error_response(404, "File not found", None, self.json)
        return response

    async def _response_for_error(self, request: Request, exc: Exception) -> Response:
        try:
            handler = self._handler_for(type(exc))
            if handler is not None:
                result = handler(request, exc)
                if inspect.isawaitable(result):
                    result = await result
                if not isinstance(result, Response):
                    raise TypeError(
                        f"exception handler {handler.__qualname__} returned "
                        f"{type(result).__name__}, not a Response"
                    )
                return result
            if isinstance(exc, HTTPException):
                return _error_response(exc.status_code, exc.detail, exc.headers, self.json)
        except Exception as failure:  # a failing handler, or unsendable HTTPException headers
            exc = failure
        logger.error(
            "Unhandled error in %s %s", request.method, loggable(request.path), exc_info=exc
        )
        if self.debug:
            raise exc
        return _internal_error()

    def _handler_for(self, exc_type: type[BaseException]) -> ExceptionHandler | None:
        if not self._exception_handlers:
            return None
        for klass in exc_type.__mro__:
            handler = self._exception_handlers.get(klass)
            if handler is not None:
                return handler
        return None

    # --- WebSocket dispatch ---------------------------------------------------------------
    async def handle_websocket(self, websocket: WebSocket) -> None:
        """Run the route's handler and apply the closing rules whatever it does."""
        found = self._websockets.match(websocket.path)
        if found is None:
            await websocket.close()  # not accepted yet: refuses the handshake (403)
            return
        entry, values = found
        handler = entry.endpoints["WS"]
        try:
            if values:
                websocket.path_params = entry.pattern.convert(values)
            await handler(websocket)
        except WebSocketDisconnect:
            pass
        except WebSocketException as exc:
            await self._close_quietly(websocket, exc.code, exc.reason)
        except Exception as exc:
            if isinstance(exc, HTTPException) and not websocket.accepted:
                await self._close_quietly(websocket, 1008, "")
                return
            logger.error("Unhandled error in WebSocket %s", loggable(websocket.path), exc_info=exc)
            await self._close_quietly(websocket, CLOSE_INTERNAL_ERROR, "Internal error")
            if self.debug:
                raise
        else:
            await self._close_quietly(websocket, 1000, "")

    @staticmethod
    async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
        """Close (or refuse, before accept) without letting a departed peer raise."""
        try:
            await websocket.close(code, reason)
        except WebSocketDisconnect:
            pass
        except ValueError:  # WebSocketException with an unsendable code or an over-long reason
            code = code if code in SENDABLE_CLOSE_CODES else 1008
            await websocket.close(code, reason.encode()[:123].decode("utf-8", "ignore"))


def loggable(text: str) -> str:
    """``text`` with control characters escaped, so a client cannot write escapes into logs."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _bind_middleware(
    middleware: Middleware, call_next: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def call(request: Request) -> Response:
        return await middleware(request, call_next)

    return call


def _error_response(
    status: int, detail: Any, headers: dict[str, str] | None, json: JSONAdapter
) -> Response:
    """``{"detail": ...}`` with ``status``; an impossible status becomes a 500."""
    if not _is_int(status) or not 200 <= status <= 999:
        logger.error("HTTPException status %r is not a final HTTP status (200-999)", status)
        return _internal_error()
    status = int(status)
    try:
        body = json.encode({"detail": detail})
    except (TypeError, ValueError):
        body = json.encode({"detail": str(detail)})
    return Response(body, status, headers, "application/json")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _is_int(status: object) -> bool:
    """A usable status number: an ``int`` or an int enum such as ``HTTPStatus``, never a bool."""
    return isinstance(status, int) and not isinstance(status, bool)


def _internal_error() -> Response:
    return Response(_INTERNAL_ERROR_BODY, 500, None, "application/json")
