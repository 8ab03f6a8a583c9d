"""The floor: the least any framework adds to the bare app, written out by hand.

A framework, at the very least, wraps each request in an object, finds the handler in a table,
awaits the handler's coroutine and takes a response object back; a WebSocket handler reads and
writes through a connection object's coroutine methods. This app does exactly that and nothing
more: no validation, no error handling, no middleware, headers prepared once. It is not a
framework anyone could use. It is measured beside the others so that each target ratio to the
bare app can be read against the best ratio any framework could reach on the same server, in
the same run ("floor" in the tables; never counted as a peer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

PLAIN = b"Hello, World!"
MESSAGE = {"message": "Hello, World!"}
_encode = msgspec.json.Encoder().encode
_TEXT = "text/plain"
_JSON = "application/json"


class Request:
    __slots__ = ("method", "path", "path_params")

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        self.path_params: dict[str, Any] = {}


class Response:
    __slots__ = ("body", "media_type", "status")

    def __init__(self, body: bytes, media_type: str, status: int = 200) -> None:
        self.body = body
        self.media_type = media_type
        self.status = status


Handler = Callable[[Request], Awaitable[Response]]


async def plaintext(request: Request) -> Response:
    return Response(PLAIN, _TEXT)


async def json_route(request: Request) -> Response:
    return Response(_encode(MESSAGE), _JSON)


async def user(request: Request) -> Response:
    return Response(_encode({"id": request.path_params["user_id"]}), _JSON)


async def filler(request: Request) -> Response:
    return Response(b"filler", _TEXT)


def routes(fillers: int) -> tuple[dict[str, Handler], dict[str, tuple[str, Handler]]]:
    """Static paths in one dict; a path with one int parameter by its prefix in another."""
    from peers import filler_paths

    static: dict[str, Handler] = {"/plaintext": plaintext, "/json": json_route}
    prefixed: dict[str, tuple[str, Handler]] = {"/users/": ("user_id", user)}
    for path, param in filler_paths(fillers):
        if param is None:
            static[path] = filler
        else:
            prefixed[f"{path}/"] = (param, filler)
    return static, prefixed


def find(request: Request, static: dict[str, Handler], prefixed: Any) -> Handler | None:
    handler = static.get(request.path)
    if handler is not None:
        return handler
    prefix, _, value = request.path.rpartition("/")
    found = prefixed.get(prefix + "/")
    if found is None or not value.isdigit():
        return None
    request.path_params[found[0]] = int(value)
    return found[1]  # type: ignore[no-any-return]


class ASGIWebSocket:
    """Receive and send through coroutine methods, as every framework's WebSocket does."""

    __slots__ = ("_receive", "_send")

    def __init__(self, receive: Any, send: Any) -> None:
        self._receive = receive
        self._send = send

    async def receive_text(self) -> str | None:
        message = await self._receive()
        return message.get("text") if message["type"] == "websocket.receive" else None

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})


class RSGIWebSocket:
    __slots__ = ("_transport",)

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    async def receive_text(self) -> str | None:
        message = await self._transport.receive()
        return message.data if message.kind == 2 else None  # type: ignore[no-any-return]

    async def send_text(self, text: str) -> None:
        await self._transport.send_str(text)


async def echo(websocket: ASGIWebSocket | RSGIWebSocket) -> None:
    while (text := await websocket.receive_text()) is not None:
        await websocket.send_text(text)


def floor_app(interface: str, fillers: int = 0) -> Any:
    static, prefixed = routes(fillers)
    return _asgi(static, prefixed) if interface == "asgi" else _rsgi(static, prefixed)


def _asgi(static: dict[str, Handler], prefixed: Any) -> Any:
    content_types = {_TEXT: b"text/plain", _JSON: b"application/json"}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            request = Request(scope["method"], scope["path"])
            handler = find(request, static, prefixed)
            if handler is None:
                response = Response(b"Not Found", _TEXT, 404)
            else:
                response = await handler(request)
            headers = [
                (b"content-type", content_types[response.media_type]),
                (b"content-length", str(len(response.body)).encode()),
            ]
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": response.body})
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await echo(ASGIWebSocket(receive, send))
        else:  # lifespan
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    return app


def _rsgi(static: dict[str, Handler], prefixed: Any) -> Any:
    async def app(scope: Any, protocol: Any) -> None:
        if scope.proto == "http":
            request = Request(scope.method, scope.path)
            handler = find(request, static, prefixed)
            if handler is None:
                response = Response(b"Not Found", _TEXT, 404)
            else:
                response = await handler(request)
            headers = [("content-type", response.media_type)]
            protocol.response_bytes(response.status, headers, response.body)
            return
        await echo(RSGIWebSocket(await protocol.accept()))
        protocol.close(None)

    return app
