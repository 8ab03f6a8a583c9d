"""ASGI HTTP: the request body from ``receive``, the response through ``send``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from velocipy.asgi.mount import forward_http
from velocipy.datastructures import Address, Headers
from velocipy.exceptions import ClientDisconnect
from velocipy.requests import Request
from velocipy.responses import FileResponse, Response, StreamingResponse
from velocipy.streaming import send_until_client_leaves

Message: TypeAlias = dict[str, Any]


class ASGIConnection:
    """Reads what requests and WebSockets share from an ASGI scope (mixed into both)."""

    __slots__ = ()
    _scope: dict[str, Any]

    def _read_root_path(self) -> str:
        return self._scope.get("root_path", "")  # type: ignore[no-any-return]

    def _read_headers(self) -> Headers:
        return Headers._from_lowercase(
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in self._scope["headers"]
            ]
        )

    def _read_query_string(self) -> str:
        return self._scope["query_string"].decode("latin-1")  # type: ignore[no-any-return]

    def _read_client(self) -> Address | None:
        # granian's ASGI scope carries the ports as text ("54321"); uvicorn's as numbers.
        client = self._scope.get("client")
        return Address(client[0], int(client[1] or 0)) if client else None

    def _read_scheme_and_server(self) -> tuple[str, Address | None]:
        server = self._scope.get("server")
        address = Address(server[0], int(server[1] or 0)) if server else None
        return self._scope.get("scheme", "http"), address


class ASGIRequest(ASGIConnection, Request):
    """A request over ASGI: made and filled in by :meth:`ASGIEntrypoint.__call__` alone.

    Its slots beside the neutral ones: ``_scope`` (the ASGI scope) and ``_receive``.
    """

    __slots__ = ("_body_done", "_receive", "_scope")
    _receive: Any

    async def _receive_whole(self) -> bytes | None:
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._body_done = True
            return message.get("body", b"")  # type: ignore[no-any-return]
        self._receive = _replaying(message, self._receive)  # the stream starts with it
        return None

    async def _receive_chunks(self) -> AsyncIterator[bytes]:
        unread: int | None = None  # bytes of a declared Content-Length still to come
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            yield chunk
            if not message.get("more_body", False):
                self._body_done = True
                return
            # PERF: granian sends a body with more_body=True and then an empty last message;
            # every receive there is a trip to the server's thread (about 15 us). Once the
            # declared length has arrived the body is whole: HTTP's framing allows no more.
            if unread is None:
                unread = self._declared_length()
                if unread is None:  # chunked: only the last message says it is the last
                    unread = -1
            if unread >= 0:
                unread -= len(chunk)
                if unread <= 0:
                    self._body_done = True
                    self._receive = _after_body(self._receive)
                    return

    async def wait_client_left(self) -> None:
        """Resolve when the server reports ``http.disconnect`` (a streamed response watches this).

        ``receive`` then has one reader, this watcher: body messages nobody has read yet are
        queued for a later ``stream()``/``body()`` (up to just past ``max_body_size``, where
        the reader answers 413 anyway), so a generator may still read the request body.
        """
        receive = self._receive
        if not getattr(self, "_body_done", False):
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self._receive = queue.get
            queued = 0
            while True:
                message = await receive()
                if queued <= self.app.max_body_size:
                    queue.put_nowait(message)
                    queued += len(message.get("body", b""))
                if message["type"] == "http.disconnect":
                    return
                if not message.get("more_body", False):
                    break
        while (await receive())["type"] != "http.disconnect":
            pass


def _replaying(first: Message, receive: Any) -> Any:
    """``receive`` that gives ``first`` back before asking the server again."""
    pending = [first]

    async def receive_again() -> Any:
        return pending.pop() if pending else await receive()

    return receive_again


def _after_body(receive: Any) -> Any:
    """``receive`` once the body is whole: the server's last body message (empty, not read)
    is skipped, so a later reader (the disconnect watcher, a mounted app) sees what ASGI
    promises after a body: only ``http.disconnect``."""

    async def receive_after_body() -> Any:
        message = await receive()
        while message["type"] == "http.request":
            message = await receive()
        return message

    return receive_after_body


_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_LENGTHS: dict[int, tuple[bytes, bytes]] = {}  # content-length headers of small bodies


def _encode_headers(response: Response) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI bytes; short ones repeat (content types, gzip, Vary, an app's CORS
    origins), so their encoded form is cached, up to 1,024 of them."""
    encoded = []
    for pair in response.raw_headers:
        cached = _ENCODED.get(pair)
        if cached is None:
            cached = (pair[0].encode("latin-1"), pair[1].encode())
            if len(pair[1]) <= 64 and pair[0] != "set-cookie" and len(_ENCODED) < 1024:
                _ENCODED[pair] = cached
        encoded.append(cached)
    return encoded


def complete_messages(response: Response, request: ASGIRequest) -> tuple[Message, Message]:
    """The two ASGI messages of a bytes response (start and body), for the caller to send.

    PERF: built by a plain function so that the entry point awaits ``send`` itself, without a
    coroutine of ours in between; files and streams go through :func:`send_response`.
    """
    body = response.body
    size = len(body)
    try:  # PERF: small bodies' content-length headers repeat; a subscript beats dict.get
        length = _LENGTHS[size]
    except KeyError:
        length = (b"content-length", str(size).encode())
        if size < 4096 and len(_LENGTHS) < 1024:
            _LENGTHS[size] = length
    raw = response.raw_headers
    if len(raw) == 1 and (encoded := _ENCODED.get(raw[0])) is not None:  # PERF: the usual
        headers = [encoded, length]  # response, its content type alone: inline
    else:
        headers = _encode_headers(response)
        headers.append(length)
    start = {"type": "http.response.start", "status": response.status_code, "headers": headers}
    return start, {
        "type": "http.response.body",
        "body": b"" if request.method == "HEAD" else body,
    }


async def send_response(response: Response, request: ASGIRequest, send: Any) -> None:
    """Emit a file or streamed response as ASGI messages (``pathsend`` for files where offered).

    A body that fails after the response started raises: the server then drops the connection,
    the one way ASGI has to tell the client that the body is incomplete.
    """
    headers = _encode_headers(response)
    head = request.method == "HEAD"
    if isinstance(response, FileResponse):
        await _send_file(response, request, headers, send, head)
    elif isinstance(response, StreamingResponse):
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        if head:
            await response.discard()  # never sent: its producer is closed now, not by the GC
            await send({"type": "http.response.body", "body": b""})
        elif await _send_chunks(response.chunks(), request, send):
            await send({"type": "http.response.body", "body": b""})
    elif response.kind == "asgi":  # a mounted ASGI app answers itself
        await forward_http(response, request, send)  # type: ignore[arg-type]


async def _send_file(
    response: FileResponse,
    request: ASGIRequest,
    headers: list[tuple[bytes, bytes]],
    send: Any,
    head: bool,
) -> None:
    headers.append((b"content-length", str(response.content_length).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b""})
    elif response.byte_range is None and "http.response.pathsend" in request._scope.get(
        "extensions", {}
    ):  # pathsend has no range: a 206 is read from its offset in chunks
        await send({"type": "http.response.pathsend", "path": response.path})
    elif await _send_chunks(response.chunks(), request, send):
        await send({"type": "http.response.body", "body": b""})


async def _send_chunks(chunks: AsyncIterator[bytes], request: ASGIRequest, send: Any) -> bool:
    """Stream ``chunks`` as body messages; False if the client left before the end."""

    async def send_chunk(chunk: bytes) -> None:
        try:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # servers that do report the departure (spec 2.4) raise this
            raise ClientDisconnect() from None

    return await send_until_client_leaves(chunks, send_chunk, request.wait_client_left)
