"""Building the middleware chain once, when middleware is added, never per request.

HTTP: each middleware is bound around the next one, down to the app's dispatcher. Every layer
maps what its middleware raises through the app's error mapping (exception handlers, the 500
body, debug re-raise), so an outer middleware (CORS, GZip) still sees a response.

WebSocket: the middleware that define :meth:`Middleware.handshake` run in order before the
route's handler; the first that returns a response refuses the handshake with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from velocipy.error_answers import internal_error, loggable
from velocipy.exceptions import HTTPException
from velocipy.middleware.base import CallNext, Middleware, defines_dispatch, defines_handshake
from velocipy.params import Endpoint
from velocipy.requests import Request
from velocipy.responses import JSONResponse, Response
from velocipy.websockets import WebSocket, WebSocketState

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = [
    "build_http_handler",
    "build_route_endpoint",
    "build_route_websocket_handler",
    "build_websocket_handler",
]

logger = logging.getLogger("velocipy")

FunctionMiddleware: TypeAlias = Callable[[Request, CallNext], Awaitable[Response]]
AnyMiddleware: TypeAlias = Middleware | FunctionMiddleware
WebSocketHandler: TypeAlias = Callable[[WebSocket], Awaitable[None]]


def build_http_handler(app: Application, middleware: Sequence[AnyMiddleware]) -> CallNext:
    """The request handler for ``app``: the bare dispatcher when no middleware wraps HTTP."""
    layers = [m for m in middleware if not isinstance(m, Middleware) or defines_dispatch(m)]
    if not layers:
        return app._dispatch_http  # PERF: no middleware, no extra frame
    call: CallNext = app._dispatch_http
    for layer in reversed(layers):
        call = _bind(app, layer, call)
    outermost = call

    async def handle_with_middleware(request: Request) -> Response:
        try:
            response = await outermost(request)
        except Exception as exc:  # debug mode re-raised inside: map (and re-raise) once more
            response = await app._response_for_error(request, exc)
        return app._finalize(request, response)

    return handle_with_middleware


def _instances(middleware: Sequence[Any]) -> list[AnyMiddleware]:
    return [item() if isinstance(item, type) else item for item in middleware]


def build_route_endpoint(
    app: Application, endpoint: Endpoint, middleware: Sequence[Any]
) -> Endpoint:
    """``endpoint`` behind a route's (or its routers') middleware, bound once, here.

    The layers run after routing, around this route alone; errors inside are mapped by each
    layer as the app's own middleware does. Routes without such middleware never come here.
    """
    layers = [
        m for m in _instances(middleware) if not isinstance(m, Middleware) or defines_dispatch(m)
    ]
    if not layers:
        return endpoint
    invoke, respond, takes_request = endpoint.invoke, endpoint.respond, endpoint.takes_request

    async def run_endpoint(request: Request) -> Response:
        return respond(await (invoke(request) if takes_request else invoke()))

    call: CallNext = run_endpoint
    for layer in reversed(layers):
        call = _bind(app, layer, call)
    return Endpoint(call, plan=endpoint.plan)


def build_route_websocket_handler(
    app: Application, handler: WebSocketHandler, middleware: Sequence[Any]
) -> WebSocketHandler:
    """A WebSocket route's handler behind its routers' handshake hooks."""
    return build_websocket_handler(app, _instances(middleware), handler)


def _bind(app: Application, middleware: AnyMiddleware, call_next: CallNext) -> CallNext:
    if isinstance(middleware, Middleware):
        dispatch: FunctionMiddleware = middleware.dispatch
        name = type(middleware).__qualname__
    else:
        dispatch = middleware
        name = getattr(middleware, "__qualname__", repr(middleware))

    async def call(request: Request) -> Response:
        try:
            response: Any = await dispatch(request, call_next)
        except Exception as exc:
            if app.debug:
                raise
            return await app._response_for_error(request, exc)
        if not isinstance(response, Response):
            logger.error(
                "%s %s: middleware %s returned %s, not a Response",
                request.method,
                loggable(request.path),
                name,
                type(response).__name__,
            )
            return internal_error(app.problem_details)
        if isinstance(response, JSONResponse) and response.body is None:
            return app._finalize(request, response)  # outer layers see the encoded body
        return response

    return call


def build_websocket_handler(
    app: Application, middleware: Sequence[AnyMiddleware], dispatch: WebSocketHandler
) -> WebSocketHandler:
    """``dispatch`` behind the handshake hooks; ``dispatch`` itself when none is defined."""
    hooks = [m for m in middleware if isinstance(m, Middleware) and defines_handshake(m)]
    if not hooks:
        return dispatch

    async def handle_guarded(websocket: WebSocket) -> None:
        for hook in hooks:
            try:
                refusal: Any = await hook.handshake(websocket)
            except Exception as exc:
                refusal = _refusal_for_error(app, websocket, hook, exc)
            if refusal is None:
                continue
            if not isinstance(refusal, Response):
                _log_error(
                    websocket,
                    f"{type(hook).__qualname__}.handshake returned "
                    f"{type(refusal).__name__}, not a Response or None",
                )
                refusal = _server_error()
            await _refuse(app, websocket, refusal)
            return
        await dispatch(websocket)

    return handle_guarded


def _refusal_for_error(
    app: Application, websocket: WebSocket, hook: Middleware, exc: Exception
) -> Response:
    if isinstance(exc, HTTPException) and 300 <= exc.status_code <= 599:
        return Response(None, exc.status_code, exc.headers)
    _log_error(websocket, f"{type(hook).__qualname__}.handshake raised", exc)
    if app.debug:
        raise exc
    return _server_error()


async def _refuse(app: Application, websocket: WebSocket, response: Response) -> None:
    if websocket.connection_state is not WebSocketState.CONNECTING:
        return  # the hook accepted or closed the socket itself
    if isinstance(response, JSONResponse) and response.body is None:
        response.render_json(app.json.encode)
    status = response.status_code
    if type(status) is not int or not 300 <= status <= 599:
        _log_error(websocket, f"a handshake refusal needs a status 300-599, not {status!r}")
        response = _server_error()
    body = response.body if response.kind == "bytes" else b""
    await websocket.refuse(response.status_code, response.raw_headers, body)


def _server_error() -> Response:
    return Response(None, 500)


def _log_error(websocket: WebSocket, message: str, exc: Exception | None = None) -> None:
    logger.error("WebSocket %s: %s", loggable(websocket.path), message, exc_info=exc)
