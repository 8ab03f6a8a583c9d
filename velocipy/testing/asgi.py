"""Drive an app through its ASGI 3.0 entry point, the way uvicorn does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from .errors import ASGIProtocolViolation, ClientDisconnected, IncompleteResponse, LifespanError
from .loop import LoopThread
from .messages import (
    Accepted,
    ClientClose,
    Closed,
    Denied,
    Finished,
    Message,
    RequestSpec,
    ResponseData,
)
from .websocket import WebSocketChannel

ASGIMessage = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[ASGIMessage]]
ASGISend = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], ASGIReceive, ASGISend], Awaitable[None]]

logger = logging.getLogger("velocipy.testing")

_SERVER_ERROR = ResponseData(
    500,
    [("content-type", "text/plain; charset=utf-8"), ("content-length", "21")],
    b"Internal Server Error",
)


def _decode_headers(raw: Any) -> list[tuple[str, str]]:
    headers = []
    for pair in raw or ():
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise ASGIProtocolViolation(f"ASGI header names and values must be bytes, got {pair!r}")
        headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))
    return headers


def _encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode()) for name, value in headers]


class ASGIDriver:
    """Builds ASGI scopes from neutral requests and runs the app like uvicorn would."""

    def __init__(self, app: Any, *, raise_server_exceptions: bool) -> None:
        self.app: ASGIApp = app
        self.raise_server_exceptions = raise_server_exceptions
        self.state: dict[str, Any] = {}
        self._lifespan_task: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[ASGIMessage] | None = None
        self._lifespan_out: asyncio.Queue[ASGIMessage | None] | None = None

    # lifespan

    def start(self, loop: LoopThread, timeout: float) -> None:
        loop.start()
        loop.run(self._startup(), timeout, "ASGI lifespan startup")

    def stop(self, loop: LoopThread, timeout: float) -> None:
        try:
            loop.run(self._shutdown(), timeout, "ASGI lifespan shutdown")
        finally:
            loop.stop()

    async def _startup(self) -> None:
        self._lifespan_in, self._lifespan_out = asyncio.Queue(), asyncio.Queue()
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._lifespan_task = asyncio.create_task(self._run_lifespan(scope))
        await self._lifespan_in.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup")

    async def _shutdown(self) -> None:
        if self._lifespan_task is None or self._lifespan_task.done():
            return  # the app does not do lifespan
        assert self._lifespan_in is not None
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown")
        await self._lifespan_task

    async def _run_lifespan(self, scope: MutableMapping[str, Any]) -> None:
        assert self._lifespan_in is not None
        assert self._lifespan_out is not None
        try:
            await self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        finally:
            await self._lifespan_out.put(None)

    async def _expect(self, phase: str) -> None:
        assert self._lifespan_out is not None
        assert self._lifespan_task is not None
        message = await self._lifespan_out.get()
        if message is None:  # the app returned or raised instead of answering
            await asyncio.wait({self._lifespan_task})
            error = self._lifespan_task.exception()
            if error is not None:
                raise error
            return
        kind = message.get("type")
        if kind == f"{phase}.failed":
            raise LifespanError(f"{phase} failed: {message.get('message', '')}")
        if kind != f"{phase}.complete":
            raise ASGIProtocolViolation(f"expected '{phase}.complete' or '.failed', got {kind!r}")

    # scopes

    def _scope(self, request: RequestSpec, kind: str) -> dict[str, Any]:
        scheme = request.scheme
        if kind == "websocket":
            scheme = "wss" if scheme == "https" else "ws"
        scope: dict[str, Any] = {
            "type": kind,
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": scheme,
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.query_string,
            "root_path": "",
            "headers": _encode_headers(request.headers),
            "client": request.client,
            "server": request.server,
            "state": dict(self.state),
        }
        if kind == "http":
            scope["method"] = request.method
            scope["extensions"] = {"http.response.pathsend": {}}
        else:
            scope["subprotocols"] = list(request.subprotocols)
            scope["extensions"] = {"websocket.http.response": {}}  # as uvicorn and granian do
        return scope

    # HTTP

    async def http(self, request: RequestSpec) -> ResponseData:
        exchange = _HTTPExchange(request)
        try:
            await self.app(self._scope(request, "http"), exchange.receive, exchange.send)
        except Exception as exc:
            if self.raise_server_exceptions:
                raise
            logger.error("Exception in ASGI application", exc_info=exc)
            if exchange.status is None:
                return _SERVER_ERROR
            if not exchange.complete.is_set():
                raise IncompleteResponse(
                    "the app raised after starting the response; the server drops the connection"
                ) from exc
        finally:
            exchange.complete.set()
        if exchange.status is None:
            logger.error("ASGI callable returned without starting response.")
            return _SERVER_ERROR
        if not exchange.finished:
            raise IncompleteResponse("ASGI callable returned without completing the response")
        return ResponseData(exchange.status, exchange.headers, b"".join(exchange.parts))

    # WebSocket

    async def websocket(self, request: RequestSpec, channel: WebSocketChannel) -> Finished:
        session = _WebSocketExchange(channel)
        error: Exception | None = None
        try:
            await self.app(self._scope(request, "websocket"), session.receive, session.send)
        except Exception as exc:
            error = exc
            if not self.raise_server_exceptions:
                logger.error("Exception in ASGI application", exc_info=exc)
        if session.state == "connecting":  # uvicorn: no handshake sent -> HTTP 500
            return Finished(error, denied=Denied(500))
        if session.state == "connected" and not channel.client_closed:
            # uvicorn: a handler that returns closes with 1000; one that raises drops the line
            return Finished(error, close=Closed(1006 if error else 1000, ""))
        return Finished(error, denied=session.denied)


class _HTTPExchange:
    """receive/send callables for one HTTP request, enforcing ASGI message order."""

    def __init__(self, request: RequestSpec) -> None:
        self.chunks = list(request.body)
        self.head = request.method == "HEAD"
        self.sent_request = False
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.parts: list[bytes] = []
        self.finished = False
        self.complete = asyncio.Event()

    async def receive(self) -> ASGIMessage:
        if self.chunks or not self.sent_request:
            self.sent_request = True
            body = self.chunks.pop(0) if self.chunks else b""
            return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: ASGIMessage) -> None:
        kind = message.get("type")
        if self.finished:
            raise ASGIProtocolViolation(
                f"Unexpected ASGI message {kind!r} after response completed"
            )
        if kind == "http.response.start":
            if self.status is not None:
                raise ASGIProtocolViolation("'http.response.start' sent twice")
            status = message.get("status")
            if not isinstance(status, int):
                raise ASGIProtocolViolation(f"the response status must be an int, got {status!r}")
            self.status = status
            self.headers = _decode_headers(message.get("headers"))
            return
        if self.status is None:
            raise ASGIProtocolViolation(f"expected 'http.response.start', got {kind!r}")
        if kind == "http.response.body":
            body = message.get("body", b"")
            if not isinstance(body, bytes | bytearray | memoryview):
                raise ASGIProtocolViolation(f"'http.response.body' body must be bytes: {body!r}")
            if not self.head:
                self.parts.append(bytes(body))
            if not message.get("more_body", False):
                self._finish()
        elif kind == "http.response.pathsend":
            path = message.get("path")
            if not isinstance(path, str) or not Path(path).is_absolute():
                raise ASGIProtocolViolation(
                    f"'http.response.pathsend' needs an absolute path: {path!r}"
                )
            data = await asyncio.to_thread(Path(path).read_bytes)
            if not self.head:
                self.parts.append(data)
            self._finish()
        else:
            raise ASGIProtocolViolation(f"unexpected ASGI message {kind!r} in an HTTP response")
        await asyncio.sleep(0)

    def _finish(self) -> None:
        self.finished = True
        self.complete.set()


class _WebSocketExchange:
    """receive/send callables for one WebSocket, with uvicorn's handshake and close rules."""

    def __init__(self, channel: WebSocketChannel) -> None:
        self.channel = channel
        self.state = "connecting"  # -> "connected" -> "closed", or "denied"
        self.connect_sent = False
        self.disconnect_sent = False
        self.denied: Denied | None = None
        self.handshake_done = asyncio.Event()

    async def receive(self) -> ASGIMessage:
        if not self.connect_sent:
            self.connect_sent = True
            return {"type": "websocket.connect"}
        await self.handshake_done.wait()
        if self.state == "denied" or self.disconnect_sent:
            return {"type": "websocket.disconnect", "code": 1006}
        event = await self.channel.next_from_client()
        if isinstance(event, ClientClose):
            self.disconnect_sent = True
            return {"type": "websocket.disconnect", "code": event.code, "reason": event.reason}
        if isinstance(event.data, str):
            return {"type": "websocket.receive", "text": event.data}
        return {"type": "websocket.receive", "bytes": event.data}

    async def send(self, message: ASGIMessage) -> None:
        kind = message.get("type")
        if self.state == "connecting":
            self._handshake(kind, message)
        elif self.state == "denying":
            self._denial_body(kind, message)
        elif self.state == "connected":
            if self.channel.client_closed:
                raise ClientDisconnected("the client closed the WebSocket")
            if kind == "websocket.send":
                self.channel.emit(Message(self._payload(message)))
            elif kind == "websocket.close":
                self.state = "closed"
                close = Closed(message.get("code") or 1000, message.get("reason") or "")
                self.channel.emit(close)
                self.channel.echo_close(ClientClose(close.code, close.reason))
            else:
                raise ASGIProtocolViolation(
                    f"unexpected ASGI message {kind!r} on an open WebSocket"
                )
        elif self.channel.client_closed:
            raise ClientDisconnected("the WebSocket is closed")
        else:
            raise ASGIProtocolViolation(
                f"Unexpected ASGI message {kind!r}, after 'websocket.close'"
            )
        await asyncio.sleep(0)

    def _handshake(self, kind: Any, message: ASGIMessage) -> None:
        if kind == "websocket.accept":
            self.state = "connected"
            headers = _decode_headers(message.get("headers"))
            self.channel.emit(Accepted(message.get("subprotocol"), headers))
        elif kind == "websocket.close":  # uvicorn refuses the handshake with 403
            self.state = "denied"
            self.denied = Denied(403)
            self.channel.emit(self.denied)
        elif kind == "websocket.http.response.start":  # the denial extension: a full response
            status = message.get("status")
            if not isinstance(status, int) or not 100 <= status <= 999:
                raise ASGIProtocolViolation(f"the denial status must be an int, got {status!r}")
            self.state = "denying"
            self.denied = Denied(status, _decode_headers(message.get("headers")))
            return
        else:
            raise ASGIProtocolViolation(
                f"Expected ASGI message 'websocket.accept' or 'websocket.close', but got {kind!r}"
            )
        self.handshake_done.set()

    def _denial_body(self, kind: Any, message: ASGIMessage) -> None:
        if kind != "websocket.http.response.body":
            raise ASGIProtocolViolation(
                f"Expected ASGI message 'websocket.http.response.body', but got {kind!r}"
            )
        if not message.get("more_body", False):
            assert self.denied is not None
            self.state = "denied"
            self.channel.emit(self.denied)
            self.handshake_done.set()

    @staticmethod
    def _payload(message: ASGIMessage) -> str | bytes:
        text, data = message.get("text"), message.get("bytes")
        if isinstance(text, str) and data is None:
            return text
        if isinstance(data, bytes | bytearray) and text is None:
            return bytes(data)
        raise ASGIProtocolViolation(
            f"'websocket.send' needs exactly one of text or bytes: {message!r}"
        )
