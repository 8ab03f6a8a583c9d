"""RSGI: run a mounted ASGI application on granian's RSGI objects (translation only).

The scope is built from granian's scope; ``receive`` reads the body (streamed) or WebSocket
frames from the protocol; ``send`` answers with ``response_bytes`` (one complete body) or
``response_stream`` (a body in parts), and accepts, sends and closes WebSockets.

What RSGI cannot carry, and what the mounted app then sees or causes:

- No raw path: ``raw_path`` is the decoded path percent-encoded again (``%2F`` reads as ``/``).
- No ``Sec-WebSocket-Protocol`` in the handshake answer: an app that accepts with a
  subprotocol (Strawberry's graphql-transport-ws, graphql-ws) is answered without it. Python
  ``websockets`` clients then connect with ``subprotocol is None``; browsers refuse the
  handshake (WHATWG rule). Logged once per process; serve the app over ASGI for browsers.
- No close codes or reasons either way: the app sees 1005 for a client's close (1006 when the
  connection dropped) and the client sees 1005 for the app's close.
- A WebSocket refused before accept is a 403 (no headers, no body, no denial response).
- No ``http.response.pathsend``, no trailers; a body that fails after it started ends as a
  normally terminated (short) chunked body, as every RSGI stream does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from velocipy.mounts import CONNECTION_KEY
from velocipy.rsgi.http import parse_address
from velocipy.rsgi.websocket import warn_once

if TYPE_CHECKING:
    from velocipy.mounts import ASGIAppResponse, MountedASGIApp
    from velocipy.requests import Connection
    from velocipy.rsgi.http import RSGIRequest
    from velocipy.rsgi.websocket import RSGIWebSocket

logger = logging.getLogger("velocipy")

_HTTP_VERSIONS = {"1": "1.0", "1.1": "1.1", "2": "2", "3": "3"}
_RAW_PATH_SAFE = "/:@!$&'()*+,;=~"
NO_STATUS = 1005
CONNECTION_LOST = 1006


def bridged_scope(
    scope: Any, mount: MountedASGIApp, kind: str, connection: Connection
) -> dict[str, Any]:
    """An ASGI scope from granian's: ``root_path`` is the mount, ``path`` the full path."""
    headers = [(name.encode("latin-1"), value.encode()) for name, value in scope.headers.items()]
    if scope.authority and "host" not in scope.headers:  # HTTP/2 has :authority, no Host
        headers.append((b"host", scope.authority.encode()))
    client, server = parse_address(scope.client), parse_address(scope.server)
    scheme = scope.scheme
    if kind == "websocket":
        scheme = "wss" if scheme == "https" else "ws"
    bridged: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": _HTTP_VERSIONS.get(scope.http_version, "1.1"),
        "scheme": scheme,
        "path": mount.scope_path(scope.path),
        "raw_path": quote(scope.path, safe=_RAW_PATH_SAFE).encode("ascii"),
        "query_string": scope.query_string.encode("latin-1", "replace"),
        "root_path": mount.prefix,
        "headers": headers,
        "client": (client.host, client.port) if client else None,
        "server": (server.host, server.port) if server else None,
        "state": mount.scope_state(),
        "extensions": {},
        CONNECTION_KEY: connection,
    }
    if kind == "http":
        bridged["method"] = scope.method
    else:
        offered: list[str] = []
        for value in scope.headers.get_all("sec-websocket-protocol"):
            offered.extend(item.strip() for item in value.split(",") if item.strip())
        bridged["subprotocols"] = offered
    return bridged


# --- HTTP -----------------------------------------------------------------------------------
async def bridge_http(response: ASGIAppResponse, request: RSGIRequest) -> None:
    """Run the mounted app on one HTTP request over RSGI."""
    exchange = _HTTPExchange(request, response.raw_headers)
    mount = response.mount
    try:
        await mount.app(
            bridged_scope(request._scope, mount, "http", request), exchange.receive, exchange.send
        )
    except Exception:
        logger.exception("mounted app at %s failed on %s", mount.prefix or "/", request.path)
    finally:
        exchange.finish()


class _HTTPExchange:
    """One request's ``receive`` and ``send``; holds granian's stream transport until the body
    ends (the response ends when it is released: nothing may keep it afterwards)."""

    def __init__(self, request: RSGIRequest, extra_headers: list[tuple[str, str]]) -> None:
        self.protocol = request._protocol
        self.extra_headers = extra_headers
        self.body: bytes | None = getattr(request, "_body", None)
        self.chunks: Any = None
        self.body_done = False
        self.start: tuple[int, list[tuple[str, str]]] | None = None
        self.transport: Any = None
        self.finished = False

    async def receive(self) -> dict[str, Any]:
        if self.body is not None:  # read before the app ran (middleware): given again
            body, self.body = self.body, None
            self.body_done = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.body_done:
            if self.chunks is None:
                self.chunks = aiter(self.protocol)
            try:
                while not (chunk := await anext(self.chunks)):
                    pass
                return {"type": "http.request", "body": chunk, "more_body": True}
            except StopAsyncIteration:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            except RuntimeError:  # RSGIProtocolClosed: the client left mid-body
                self.body_done = True
                return {"type": "http.disconnect"}
        await self.protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.finished:
            raise RuntimeError(f"ASGI message {kind!r} after the response was complete")
        if kind == "http.response.start":
            if self.start is not None:
                raise RuntimeError("ASGI http.response.start sent twice")
            status = message["status"]
            if type(status) is not int or not 200 <= status <= 999:  # others kill the worker
                raise RuntimeError(f"ASGI status {status!r} is not a final HTTP status")
            headers = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
            self.start = (status, [*headers, *self.extra_headers])
        elif kind == "http.response.body":
            if self.start is None:
                raise RuntimeError("ASGI http.response.body before http.response.start")
            body = bytes(message.get("body", b""))
            more = message.get("more_body", False)
            if self.transport is None and not more:
                self.finished = True
                self.protocol.response_bytes(*self.start, body)
                return
            if self.transport is None:
                self.transport = self.protocol.response_stream(*self.start)
            try:
                if body:
                    await self.transport.send_bytes(body)
            except RuntimeError:  # RSGIProtocolClosed
                self.release()
                raise OSError("the client disconnected") from None
            if not more:
                self.release()
        else:
            raise RuntimeError(f"ASGI message {kind!r} is not supported over RSGI")

    def release(self) -> None:
        self.finished = True
        self.transport = None

    def finish(self) -> None:
        if self.start is None and not self.finished:
            self.protocol.response_bytes(500, [("content-type", "text/plain")], b"")
        self.release()


# --- WebSocket ------------------------------------------------------------------------------
async def bridge_websocket(websocket: RSGIWebSocket, mount: MountedASGIApp) -> None:
    """Run the mounted app on one WebSocket over RSGI."""
    session = _WebSocketSession(websocket._protocol)
    try:
        await mount.app(
            bridged_scope(websocket._scope, mount, "websocket", websocket),
            session.receive,
            session.send,
        )
    except Exception:
        logger.exception(
            "mounted app at %s failed on WebSocket %s", mount.prefix or "/", websocket.path
        )
    finally:
        session.finish()


class _WebSocketSession:
    """``receive``/``send`` over granian's WebSocket protocol; guards the calls that kill a
    worker (accept twice, a close code before accept)."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport: Any = None
        self.connected = False  # websocket.connect was delivered
        self.state = "connecting"  # -> "accepted" -> "closed"

    async def receive(self) -> dict[str, Any]:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.state != "accepted":
            return {"type": "websocket.disconnect", "code": CONNECTION_LOST}
        try:
            message = await self.transport.receive()
        except RuntimeError:  # RSGIProtocolClosed: gone without a close frame
            self.state = "closed"
            self.transport = None
            return {"type": "websocket.disconnect", "code": CONNECTION_LOST}
        if message.kind == 0:
            self.state = "closed"
            self.transport = None
            return {"type": "websocket.disconnect", "code": NO_STATUS}
        if message.kind == 2:
            return {"type": "websocket.receive", "text": message.data}
        return {"type": "websocket.receive", "bytes": message.data}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            if self.state != "connecting":
                raise RuntimeError(f"ASGI websocket.accept on a WebSocket that is {self.state}")
            if message.get("subprotocol"):
                warn_once(
                    "bridge-subprotocol",
                    f"RSGI cannot send Sec-WebSocket-Protocol: a mounted app accepted with "
                    f"subprotocol {message['subprotocol']!r}, answered without it (Python "
                    "clients connect; browsers refuse the handshake). Serve the app over "
                    "ASGI for browser clients.",
                )
            self.state = "accepted"
            self.transport = await self.protocol.accept()
        elif kind == "websocket.send":
            if self.state != "accepted":
                raise RuntimeError(f"ASGI websocket.send on a WebSocket that is {self.state}")
            text = message.get("text")
            try:
                if text is not None:
                    await self.transport.send_str(text)
                else:
                    await self.transport.send_bytes(bytes(message.get("bytes") or b""))
            except RuntimeError:  # RSGIProtocolClosed: the client left
                self.state = "closed"
                raise OSError("the client disconnected") from None
        elif kind == "websocket.close":
            self.close()
        else:
            raise RuntimeError(f"ASGI message {kind!r} is not supported over RSGI")

    def close(self) -> None:
        if self.state == "closed":
            return
        # before accept: an HTTP status (403); after: granian ignores the value (1005)
        status = 403 if self.state == "connecting" else None
        self.state = "closed"
        self.transport = None
        self.protocol.close(status)

    def finish(self) -> None:
        self.close()
        # granian finishes the connection when its transport is released; the app's tasks
        # may keep this session (its receive and send) alive after it returned
        self.transport = None
