"""RSGI HTTP: the body from the protocol object, the response through ``response_*``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from velocipy.datastructures import Address, Headers
from velocipy.exceptions import ClientDisconnect
from velocipy.requests import Request
from velocipy.responses import FileResponse, StreamingResponse
from velocipy.streaming import send_until_client_leaves

logger = logging.getLogger("velocipy")


def parse_address(text: str) -> Address | None:
    """granian gives ``"host:port"`` or ``"[v6]:port"``; a Unix socket has no port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return Address(host.strip("[]"), int(port))


def read_headers(scope: Any) -> Headers:
    """granian's headers as ours; HTTP/2's ``:authority`` stands in for the missing Host."""
    items: list[tuple[str, str]] = list(scope.headers.items())
    authority = scope.authority
    if authority and "host" not in scope.headers:
        items.append(("host", authority))
    return Headers._from_lowercase(items)


class RSGIConnection:
    """Reads what requests and WebSockets share from granian's scope (mixed into both)."""

    __slots__ = ()
    _scope: Any

    def _read_headers(self) -> Headers:
        return read_headers(self._scope)

    def _read_query_string(self) -> str:
        return self._scope.query_string  # type: ignore[no-any-return]

    def _read_client(self) -> Address | None:
        return parse_address(self._scope.client)

    def _read_scheme_and_server(self) -> tuple[str, Address | None]:
        return self._scope.scheme, parse_address(self._scope.server)


class RSGIRequest(RSGIConnection, Request):
    """A request over RSGI: made and filled in by :meth:`RSGIEntrypoint.__rsgi__` alone.

    Its slots beside the neutral ones: ``_scope`` (granian's scope) and ``_protocol``.
    """

    __slots__ = ("_protocol", "_scope")
    _protocol: Any

    async def _receive_whole(self) -> bytes | None:
        declared = self._scope.headers.get("content-length")
        if declared is None or len(declared) >= 6:  # chunked, or 100 kB and more: a stream
            return None
        try:
            return await self._protocol()  # type: ignore[no-any-return]
        except RuntimeError as exc:  # granian's RSGIProtocolClosed: the client left
            raise ClientDisconnect() from exc

    async def _receive_chunks(self) -> AsyncIterator[bytes]:
        whole = await self._receive_whole()
        if whole is not None:  # declared size already checked
            yield whole
            return
        try:
            # granian ends a whole HTTP/1 body with one b"". A body that broke off (client
            # gone, malformed chunk size) ends with b"" twice instead of raising: the only
            # sign granian gives (client_disconnect() does not resolve then). Trailers look
            # the same, so a chunked body with trailers is refused too: better than a
            # truncated body taken as whole. Pinned by tests/interop/test_hostile_http.py.
            ended = False
            strict = self._scope.http_version != "2"
            async for chunk in self._protocol:
                if chunk:
                    yield chunk
                elif ended and strict:
                    raise ClientDisconnect()
                else:
                    ended = True
        except RuntimeError as exc:  # granian's RSGIProtocolClosed: the client left
            raise ClientDisconnect() from exc


def send_file(response: FileResponse, protocol: Any) -> None:
    """Emit a file response with granian's native file sending (plain calls).

    A range of the file is sent even for a whole file: exactly the ``content-length`` that was
    announced, also when the file grows meanwhile (an empty file has no range to send).
    """
    headers = [*response.raw_headers, ("content-length", str(response.content_length))]
    start, end = response.byte_range or (0, response.size)  # end exclusive, as granian wants it
    if start < end:
        protocol.response_file_range(response.status_code, headers, response.path, start, end)
    else:
        protocol.response_file(response.status_code, headers, response.path)


async def send_stream(response: StreamingResponse, protocol: Any, head: bool) -> Exception | None:
    """Stream the body (for HEAD only the head: the body is closed unsent); return the error
    of a body that failed after the response started, logged here, or None."""
    # The response ends when granian's transport object is released, so no reference to it
    # may outlive this function: not in a traceback, not in a variable.
    sender = _ChunkSender(protocol.response_stream(response.status_code, response.raw_headers))
    if head:
        sender.release()
        await response.discard()
        return None
    try:
        await send_until_client_leaves(response.chunks(), sender.send, protocol.client_disconnect)
    except Exception as exc:
        sender.release()  # before the error is kept: its traceback holds our frames
        # RSGI cannot abort a stream: the client sees a short body that ended normally.
        logger.error("streamed response failed after it started (body truncated)", exc_info=exc)
        return exc
    finally:
        sender.release()
    return None


class _ChunkSender:
    """Holds granian's stream transport until :meth:`release` (then the response ends)."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    async def send(self, chunk: bytes) -> None:
        try:
            await self._transport.send_bytes(chunk)
        except RuntimeError:  # RSGIProtocolClosed: the client went away
            raise ClientDisconnect() from None

    def release(self) -> None:
        self._transport = None
