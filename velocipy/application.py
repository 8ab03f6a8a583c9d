"""The protocol-neutral application: registration API, the one dispatch path, error mapping.

Protocol adapters turn a server's call into a neutral ``Request`` or ``WebSocket`` and call
:meth:`Application.handle_http` or :meth:`Application.handle_websocket`. Everything that
decides what the client sees (404/405/413/422/500, WebSocket 1000/1011/403, debug re-raise)
happens here, once, for both protocols.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MethodType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, Unpack

from velocipy.apidocs import install_api_docs
from velocipy.datastructures import State
from velocipy.dependencies import Depends, binds_more_than_the_websocket
from velocipy.dependency_endpoints import compile_websocket
from velocipy.dependency_overrides import DependencyOverrides
from velocipy.error_answers import (
    detail_response,
    internal_error,
    is_int_status,
    loggable,
    with_other_errors,
)
from velocipy.exceptions import (
    ClientDisconnect,
    HTTPException,
)
from velocipy.forms import FormLimits
from velocipy.http_routes import HTTPRegistration, RouteHook, build_http_endpoint, run_before
from velocipy.json import JSONAdapter, get_adapter
from velocipy.lifespan import Lifespan, LifespanFactory
from velocipy.loop_watch import LoopWatch, watch_loop_enabled
from velocipy.middleware.base import Middleware as ClassMiddleware
from velocipy.middleware.chain import (
    build_http_handler,
    build_route_websocket_handler,
    build_websocket_handler,
)
from velocipy.mounts import ASGIApp, MountedHandler, handler_endpoint, mount_asgi, mount_kind
from velocipy.params import Endpoint, unencodable_result_response
from velocipy.problems import Problem, problem_response
from velocipy.requests import Request
from velocipy.responses import FileResponse, JSONResponse, Response, replaced_after_failure
from velocipy.routers import (
    HTTP_METHODS,
    APIRouter,
    RouteDecorators,
    RouteOptions,
    check_route_options,
    merged_options,
    register_definitions,
)
from velocipy.routing import PathPattern, PathValidationError, RouteInfo, RouteTable
from velocipy.sse import EventSourceResponse
from velocipy.websocket_dispatch import (
    WebSocketHandler,
    run_websocket_handler,
    validating_messages,
)
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.observability.instrument import Instrument
    from velocipy.security.guards import Guard

__all__ = ["Application"]

logger = logging.getLogger("velocipy")

ExceptionHandler: TypeAlias = Callable[[Request, Any], Awaitable[Response] | Response]
Middleware: TypeAlias = Callable[
    [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]
]
M = TypeVar("M", bound=Middleware)
H = TypeVar("H", bound=ExceptionHandler)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
        form_limits: FormLimits | None = None,
        middleware: Sequence[ClassMiddleware | type[ClassMiddleware] | Middleware] = (),
        websocket_origins: Sequence[str] | None = None,
        dependencies: Sequence[Depends] = (),
        guards: Sequence[Guard] = (),
        title: str = "VelociPy",
        version: str = "0.1.0",
        description: str | None = None,
        openapi_url: str | None = "/openapi.json",
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        openapi_tags: Sequence[dict[str, Any]] | None = None,
        asyncapi_url: str | None = "/asyncapi.json",
        problem_details: bool = False,
    ) -> None:
        # Unset, debug follows VELOCIPY_DEBUG, which `velocipy run --debug` sets for the app.
        self.debug = _env_flag("VELOCIPY_DEBUG") if debug is None else debug
        # Seen by every HTTP route as it is built (velocipy/http_routes.py); velocipy run's
        # loop watch names handlers that block the loop. Registrations are kept for a rebuild.
        self._route_hooks: list[RouteHook] = [LoopWatch()] if watch_loop_enabled() else []
        self._http_registrations: list[tuple[HTTPRegistration, Endpoint]] = []
        self.json: JSONAdapter = get_adapter(json_adapter)
        self.max_body_size = max_body_size
        self.ws_max_message_size = ws_max_message_size
        self.form_limits = form_limits or FormLimits()
        # RFC 9457 application/problem+json for every error answer (velocipy/problems.py)
        self.problem_details = problem_details
        self.state = State()
        self.lifespan = Lifespan(self, lifespan, on_startup, on_shutdown)
        self._http: RouteTable[Endpoint] = RouteTable()
        self._websockets: RouteTable[WebSocketHandler] = RouteTable()
        self._routes: list[RouteInfo] = []
        self._names: dict[str, tuple[PathPattern, Callable[..., Any]]] = {}
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = {}
        self._middleware: list[Middleware | ClassMiddleware] = []
        self._instruments: list[Instrument] = []
        self.handle_http: Callable[[Request], Awaitable[Response]] = self._dispatch_http
        for item in middleware:
            self._middleware.append(item() if isinstance(item, type) else item)
        if websocket_origins is not None:
            from velocipy.middleware.websocket_origin import WebSocketOriginMiddleware

            self._middleware.append(WebSocketOriginMiddleware(allowed_origins=websocket_origins))
        if self._middleware:
            self._build_middleware_chain()
        self._dependency_overrides = DependencyOverrides()
        # OpenAPI: described on the first request of openapi_url, then kept (None: no routes)
        self.title, self.version, self.description = title, version, description
        self.openapi_url, self.docs_url, self.redoc_url = openapi_url, docs_url, redoc_url
        self.openapi_tags = list(openapi_tags or ())
        self.asyncapi_url = asyncapi_url
        self._openapi: tuple[dict[str, Any], bytes] | None = None
        self._asyncapi: tuple[dict[str, Any], bytes] | None = None
        self.dependencies: tuple[Depends, ...] = ()  # the docs routes are open to everyone
        self.guards: tuple[Guard, ...] = ()
        install_api_docs(self)
        self.dependencies = tuple(dependencies)  # run before every other route's handler
        self.guards = tuple(guards)

    # --- registration ---------------------------------------------------------------------
    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        check_route_options(handler, options)
        options = merged_options(self.dependencies, (), options, self.guards)
        methods = [m.upper() for m in methods]
        unknown = sorted(set(methods) - HTTP_METHODS)
        if unknown or not methods:
            raise ValueError(f"route {path!r}: unknown HTTP method(s) {unknown or methods}")
        registration = HTTPRegistration(path, handler, tuple(methods), status_code, options)
        endpoint, pattern = build_http_endpoint(self, registration)
        entry = self._http.entry_for(pattern)
        for method in methods:
            if method in entry.handlers:
                raise ValueError(
                    f"{method} {path} is already handled by {entry.handlers[method].__qualname__}"
                )
        self._remember_name(name or handler.__name__, pattern, handler)
        self._http_registrations.append((registration, endpoint))
        for method in methods:
            entry.endpoints[method] = endpoint
            entry.handlers[method] = handler
        if "GET" in methods and "HEAD" not in entry.handlers:
            entry.endpoints["HEAD"] = endpoint  # HEAD is GET without the body
        entry.allow = ", ".join(sorted(entry.endpoints))
        served = (*methods, "HEAD") if "GET" in methods and "HEAD" not in methods else methods
        self._routes.append(
            RouteInfo(
                "http",
                path,
                tuple(served),
                name or handler.__name__,
                handler,
                options,
                endpoint,
                status_code,
            )
        )
        self._openapi = None

    def add_websocket_route(
        self,
        path: str,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"WebSocket handler {handler.__qualname__} must be an async function")
        check_route_options(handler, options, websocket=True)
        options = merged_options(self.dependencies, (), options, self.guards)
        pattern = PathPattern.parse(path)
        endpoint: WebSocketHandler = handler
        before = run_before(options)
        if before or binds_more_than_the_websocket(handler):
            endpoint, pattern = compile_websocket(
                handler, pattern, self.json, before, self.dependency_overrides
            )
        if options.get("receives") is not None:
            endpoint = validating_messages(endpoint, options["receives"])
        if options.get("rate_limit") or options.get("message_rate_limit") is not None:
            from velocipy.ratelimit import limited_websocket, limits_of

            handshakes = limits_of(options.get("rate_limit", ()))
            messages = options.get("message_rate_limit")
            endpoint = limited_websocket(endpoint, handshakes, messages, f"WS {path}")
        if options.get("middleware"):
            endpoint = build_route_websocket_handler(  # type: ignore[assignment]
                self, endpoint, options["middleware"]
            )
        entry = self._websockets.entry_for(pattern)
        if "WS" in entry.endpoints:
            raise ValueError(
                f"WebSocket {path} is already handled by {entry.handlers['WS'].__qualname__}"
            )
        self._remember_name(name or handler.__name__, pattern, handler)
        entry.endpoints["WS"] = endpoint
        entry.handlers["WS"] = handler
        self._routes.append(
            RouteInfo("websocket", path, (), name or handler.__name__, handler, options, endpoint)
        )
        self._asyncapi = None

    @property
    def dependency_overrides(self) -> DependencyOverrides:
        """Providers swapped for others (tests): ``app.dependency_overrides[real] = fake``."""
        return self._dependency_overrides

    @dependency_overrides.setter
    def dependency_overrides(
        self, overrides: Mapping[Callable[..., Any], Callable[..., Any]]
    ) -> None:
        # FastAPI's idiom ``app.dependency_overrides = {}`` replaces what is overridden.
        self._dependency_overrides.replace(overrides)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this app's HTTP routes (built once, then kept)."""
        return self._described()[0]

    def openapi_bytes(self) -> bytes:
        """:meth:`openapi` encoded as JSON, as ``openapi_url`` serves it."""
        return self._described()[1]

    def _described(self) -> tuple[dict[str, Any], bytes]:
        if self._openapi is None:
            from velocipy.openapi import build_openapi

            self._openapi = (build_openapi(self), b"")
        if not self._openapi[1]:
            self._openapi = (self._openapi[0], self.json.encode(self._openapi[0]))
        return self._openapi

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of this app's WebSocket routes (built once, then kept)."""
        return self._described_websockets()[0]

    def asyncapi_bytes(self) -> bytes:
        return self._described_websockets()[1]

    def _described_websockets(self) -> tuple[dict[str, Any], bytes]:
        if self._asyncapi is None:
            from velocipy.asyncapi import build_asyncapi

            self._asyncapi = (build_asyncapi(self), b"")
        if not self._asyncapi[1]:
            self._asyncapi = (self._asyncapi[0], self.json.encode(self._asyncapi[0]))
        return self._asyncapi

    def _remember_name(self, name: str, pattern: PathPattern, handler: Callable[..., Any]) -> None:
        known = self._names.get(name)
        if known is not None and known[1] is not handler:
            raise ValueError(
                f"route name {name!r} is already used by {known[0].template!r}; "
                "pass name=... to tell the routes apart"
            )
        self._names[name] = (pattern, handler)

    def mount(
        self, path: str, handler: MountedHandler | ASGIApp, *, name: str | None = None
    ) -> None:
        """Send every request under ``path`` to ``handler``: a neutral handler or an ASGI app.

        A neutral handler, ``handler(request) -> Response`` (sync or async; ``StaticFiles``
        is one), sees the rest of the path as ``request.path_params["path"]`` (``""`` for
        ``path + "/"``). An ASGI application, ``app(scope, receive, send)``, gets HTTP and
        WebSocket connections to ``path`` and below with ``root_path`` set to ``path``, and
        its lifespan runs in this app's (see :mod:`velocipy.mounts`). ``url_for(name,
        path=...)`` builds URLs under the mount. Anything else is refused here, with what
        mount takes. A mount is one more route decided here: other routes pay nothing for it.
        """
        kind = mount_kind(handler)
        prefix = path.rstrip("/")
        if prefix and (not prefix.startswith("/") or "{" in prefix or "}" in prefix):
            raise ValueError(f"mount path {path!r} must start with '/' and have no parameters")
        pattern = PathPattern.parse(f"{prefix}/{{path:path}}")
        entries = [self._http.entry_for(pattern)]
        if kind == "asgi" and prefix:  # the mount path itself: POST /graphql
            entries.append(self._http.entry_for(PathPattern.parse(prefix)))
        for entry in entries:
            if entry.endpoints:
                raise ValueError(
                    f"mount path {path!r}: {entry.pattern.template!r} is already routed"
                )
        if name is not None:
            self._remember_name(name, pattern, handler)
        if kind == "asgi":
            mounted = mount_asgi(self, prefix, handler)  # type: ignore[arg-type]
            serve_mounted = mounted.endpoint()
            self._mount_websockets(prefix, mounted.websocket_endpoint())
        else:
            serve_mounted = handler_endpoint(handler)  # type: ignore[arg-type]
        serve_mounted.__qualname__ = f"the mount at {prefix or '/'} ({type(handler).__name__})"
        endpoint = Endpoint(serve_mounted)
        for entry in entries:
            for method in HTTP_METHODS:
                entry.endpoints[method] = endpoint
                entry.handlers[method] = serve_mounted
            entry.allow = ", ".join(sorted(HTTP_METHODS))
        label = name or type(handler).__name__
        self._routes.append(RouteInfo("mount", pattern.template, ("*",), label, handler))

    def _mount_websockets(self, prefix: str, handler: WebSocketHandler) -> None:
        templates = [f"{prefix}/{{path:path}}", prefix] if prefix else ["/{path:path}"]
        for template in templates:
            entry = self._websockets.entry_for(PathPattern.parse(template))
            if "WS" in entry.endpoints:
                raise ValueError(f"mount path {prefix!r}: WebSocket {template!r} is already routed")
            handler.__qualname__ = f"the mount at {prefix or '/'}"
            entry.endpoints["WS"] = handler
            entry.handlers["WS"] = handler

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        guards: Sequence[Guard] = (),
    ) -> None:
        """Add every route of ``router`` (under ``prefix`` + the router's own prefix)."""
        register_definitions(self, router.definitions, prefix, dependencies, tags, guards)

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

    def add_middleware(self, middleware_class: type[ClassMiddleware], **options: Any) -> None:
        """Add ``middleware_class(**options)``; the first added runs outermost (HTTP and
        WebSocket handshakes), in one chain with ``@app.middleware`` functions."""
        self._middleware.append(middleware_class(**options))
        self._build_middleware_chain()

    def add_instrument(self, instrument: Instrument) -> None:
        """Watch every request and WebSocket with ``instrument`` (velocipy.observability).

        Instruments wrap the whole middleware chain, the first added outermost; an app without
        any keeps the bare dispatchers (decided here, never per request).
        """
        instrument.install(self)
        self._instruments.append(instrument)
        self._build_middleware_chain()

    def _build_middleware_chain(self) -> None:
        """Decided at registration: an app without middleware keeps the bare dispatchers."""
        handle_http = build_http_handler(self, self._middleware)
        handle_websocket = build_websocket_handler(
            self, self._middleware, MethodType(Application.handle_websocket, self)
        )
        for instrument in reversed(self._instruments):
            handle_http = instrument.wrap_http(handle_http)
            handle_websocket = instrument.wrap_websocket(handle_websocket)
        self.handle_http = handle_http
        self.handle_websocket = handle_websocket  # type: ignore[method-assign,assignment]

    # --- lifespan -------------------------------------------------------------------------
    async def startup(self) -> None:
        """Run the lifespan startup (once per worker); the API documents are built first, so a
        route they cannot describe stops the start, not a later request for them."""
        if not self.lifespan.started:
            if self.openapi_url is not None and self._openapi is None:
                from velocipy.openapi import build_openapi

                self._openapi = (build_openapi(self), b"")  # encoded when first asked for
            if self.asyncapi_url is not None and self._asyncapi is None:
                from velocipy.asyncapi import build_asyncapi

                self._asyncapi = (build_asyncapi(self), b"")
        await self.lifespan.startup()

    async def shutdown(self) -> None:
        await self.lifespan.shutdown()

    # --- HTTP dispatch --------------------------------------------------------------------
    async def _dispatch_http(self, request: Request) -> Response:
        try:
            entry = self._http.static.get(request.path)  # PERF: static paths skip the tree
            if entry is None:
                found = self._http.lookup_params(request.path)
                if found is None:
                    raise HTTPException(404)
                entry, request._path_params = found  # PERF: the slot, not the setter
            endpoint = entry.endpoints.get(request.method)
            if endpoint is None:
                raise HTTPException(405, headers={"allow": entry.allow})
            if request.method in _BODY_METHODS:
                request.check_declared_length()
            # PERF: read, then called: instance attributes (see WebSocket._next_message)
            invoke, respond = endpoint.invoke, endpoint.respond
            response = respond(await (invoke(request) if endpoint.takes_request else invoke()))
        except Exception as exc:
            response = await self._response_for_error(request, exc)
        # PERF: one check for the responses the app finishes (JSON to encode, a file to
        # prepare: their body is None) and for a status that needs a look
        status = response.status_code
        if response.body is None or type(status) is not int or not 200 <= status <= 999:
            return self._finalize(request, response)
        return response

    def _finalize(self, request: Request, response: Response) -> Response:
        """Last checks before a response reaches a server: status range, JSON body, file."""
        status = response.status_code
        if type(status) is not int and is_int_status(status):  # HTTPStatus and other int enums
            status = response.status_code = int(status)
        if type(status) is not int or not 200 <= status <= 999:
            logger.error(
                "%s %s: handler returned status %r; a final HTTP status must be 200-999",
                request.method,
                loggable(request.path),
                status,
            )
            failure = ValueError(f"a final HTTP status must be 200-999, not {status!r}")
            return replaced_after_failure(response, internal_error(self.problem_details), failure)
        if isinstance(response, JSONResponse) and response.body is None:
            try:
                response.render_json(self.json.encode)
            except (TypeError, ValueError, UnicodeError) as exc:
                logger.exception(
                    "%s %s: response content is not JSON-serializable",
                    request.method,
                    loggable(request.path),
                )
                return replaced_after_failure(response, internal_error(self.problem_details), exc)
        elif isinstance(response, FileResponse):
            try:  # conditional GET and Range are decided here, once, for both protocols
                return response.prepare(request)
            except (OSError, ValueError):  # missing, not a regular file, or an unusable path
                missing = self._error_response(404, "File not found", None)
                missing.background = response.background  # the answer keeps the after-work
                return missing
        elif isinstance(response, EventSourceResponse):
            response.use_json(self.json.encode)
        return response

    async def _response_for_error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, PathValidationError) and exc.entry is not None:
            exc = await with_other_errors(request, exc)
        unencodable = unencodable_result_response(exc)
        if unencodable is not None:
            return unencodable
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
                return self._error_response(exc.status_code, exc.detail, exc.headers, exc)
            if isinstance(exc, ClientDisconnect):
                # The client left mid-body (nobody reads this answer) or the server found the
                # body's framing broken (then the client gets a 400): either way its doing.
                logger.debug("%s %s: %s", request.method, loggable(request.path), exc)
                return self._error_response(400, str(exc), None)
        except Exception as failure:  # a failing handler, or unsendable HTTPException headers
            exc = failure
        logger.error(
            "Unhandled error in %s %s", request.method, loggable(request.path), exc_info=exc
        )
        if self.debug:
            raise exc
        return internal_error(self.problem_details)

    def _error_response(
        self,
        status: int,
        detail: Any,
        headers: dict[str, str] | None,
        exc: BaseException | None = None,
    ) -> Response:
        """The answer for an error: ``{"detail": ...}``, or a problem document (RFC 9457)."""
        if not is_int_status(status) or not 200 <= status <= 999:
            logger.error("HTTPException status %r is not a final HTTP status (200-999)", status)
            return internal_error(self.problem_details)
        if self.problem_details or isinstance(exc, Problem):
            return problem_response(int(status), detail, headers, self.json, exc)
        return detail_response(status, detail, headers, self.json)

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
        # PERF: the handler and its closing rules run as a task of their own. Each message
        # then wakes only that task's coroutines, not this one and the server's entry above
        # it: about 1,000 instructions less a message on granian. Cancelling the server's task
        # still cancels this one.
        await asyncio.create_task(run_websocket_handler(websocket, *found, debug=self.debug))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
