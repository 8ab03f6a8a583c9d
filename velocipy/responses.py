"""Neutral responses: a status, a header list and one of three bodies (bytes, stream, file).

Adapters map the three kinds one-to-one onto their server: bytes -> ``response_bytes`` /
``http.response.body``; stream -> ``response_stream`` / chunked body messages; file ->
``response_file`` / ``http.response.pathsend`` (or chunked reads where the server lacks it).
Headers are ``(str, str)`` pairs with lower-case names; ``content-length`` is added by the adapter.
"""

from __future__ import annotations

import asyncio
import email.utils
import mimetypes
import os
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from velocipy.datastructures import MutableHeaders, check_header, format_cookie

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

HeadersInput = Mapping[str, str] | Sequence[tuple[str, str]] | None
BodyKind = Literal["bytes", "stream", "file"]


class Response:
    """A response with a complete body (``bytes``, or ``str`` encoded as UTF-8)."""

    __slots__ = ("body", "raw_headers", "status_code")

    kind: ClassVar[BodyKind] = "bytes"
    media_type: ClassVar[str | None] = None

    body: bytes
    status_code: int
    raw_headers: list[tuple[str, str]]

    def __init__(
        self,
        content: bytes | str | None = None,
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = self.render(content)
        self.raw_headers = _build_headers(headers, media_type or self.media_type)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode("utf-8")
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise TypeError(
            f"{type(self).__name__} content must be bytes or str, not {type(content).__name__}"
        )

    @property
    def headers(self) -> MutableHeaders:
        """The headers, editable in place (``response.headers["x-id"] = "7"``)."""
        return MutableHeaders(self.raw_headers)

    @property
    def media_type_header(self) -> str | None:
        return self.headers.get("content-type")

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: int | str | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        """Add a ``Set-Cookie`` header; values are quoted so they cannot break the header."""
        cookie = format_cookie(
            key,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self.headers.append("set-cookie", cookie)

    def delete_cookie(self, key: str, *, path: str = "/", domain: str | None = None) -> None:
        self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


_CONTENT_TYPE_HEADERS: dict[str, tuple[str, str]] = {}


def _content_type_header(media_type: str) -> tuple[str, str]:
    """``("content-type", value)`` for a media type, text types with a UTF-8 charset (cached)."""
    header = _CONTENT_TYPE_HEADERS.get(media_type)
    if header is None:
        value = media_type
        if media_type.startswith("text/") and "charset=" not in media_type:
            value += "; charset=utf-8"
        header = ("content-type", value)
        if len(_CONTENT_TYPE_HEADERS) < 128:
            _CONTENT_TYPE_HEADERS[media_type] = header
    return header


def _build_headers(headers: HeadersInput, media_type: str | None) -> list[tuple[str, str]]:
    if not headers:  # PERF: the common case is one cached tuple, looked up without a call
        if media_type is None:
            return []
        cached = _CONTENT_TYPE_HEADERS.get(media_type)
        return [cached if cached is not None else _content_type_header(media_type)]
    raw: list[tuple[str, str]] = []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        name = name.lower()
        check_header(name, value)
        raw.append((name, value))
    if media_type is not None and not any(name == "content-type" for name, _ in raw):
        raw.insert(0, _content_type_header(media_type))
    return raw


class PlainTextResponse(Response):
    __slots__ = ()
    media_type = "text/plain"


class HTMLResponse(Response):
    __slots__ = ()
    media_type = "text/html"


class JSONResponse(Response):
    """``content`` encoded with the app's JSON adapter when the response is sent.

    Encoding waits for the app so that every JSON body, whichever way a handler produced it,
    goes through the one adapter chosen with ``VelociPy(json_adapter=...)``.
    """

    __slots__ = ("content",)
    media_type = "application/json"

    body: bytes | None  # type: ignore[assignment]  # None until the app renders it

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
    ) -> None:
        self.content = content
        super().__init__(None, status_code, headers, media_type)
        self.body = None

    def render_json(self, encode: Callable[[Any], bytes]) -> None:
        """Encode ``content`` into ``body`` (the app calls this once, before sending)."""
        self.body = encode(self.content)


class RedirectResponse(Response):
    """Redirect to ``url`` (307 by default, which keeps the method and body)."""

    __slots__ = ()

    def __init__(self, url: str, status_code: int = 307, headers: HeadersInput = None) -> None:
        super().__init__(None, status_code, headers)
        self.headers["location"] = quote(url, safe=":/%#?=@[]!$&'()*+,;~")


class StreamingResponse(Response):
    """A body produced chunk by chunk from an async (or plain) iterable of ``bytes`` / ``str``.

    A plain iterator is advanced in a worker thread so a blocking generator never stalls the loop.
    """

    __slots__ = ("content",)
    kind = "stream"

    def __init__(
        self,
        content: AsyncIterable[bytes | str] | Iterable[bytes | str],
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(None, status_code, headers, media_type)
        self.content = content

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as bytes chunks, whatever the iterable yields."""
        content = self.content
        if isinstance(content, AsyncIterable):
            return _encode_async(content)
        return _encode_async(_iterate_in_thread(iter(content)))


async def _encode_async(content: AsyncIterable[bytes | str]) -> AsyncIterator[bytes]:
    async for chunk in content:
        yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


_DONE = object()


async def _iterate_in_thread(iterator: Iterator[bytes | str]) -> AsyncIterator[bytes | str]:
    while True:
        chunk = await asyncio.to_thread(next, iterator, _DONE)
        if chunk is _DONE:
            return
        yield chunk  # type: ignore[misc]


class FileResponse(Response):
    """Send the file at ``path``; the server streams it natively where it can.

    ``filename`` adds ``Content-Disposition: attachment``. The file is looked at when the
    response is sent: a missing file answers 404.
    """

    __slots__ = ("filename", "path", "size")
    kind = "file"
    chunk_size: ClassVar[int] = 64 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.filename = filename
        self.size = 0
        if media_type is None:
            guessed, _ = mimetypes.guess_type(filename or self.path)
            media_type = guessed or "application/octet-stream"
        super().__init__(None, status_code, headers, media_type)
        if filename is not None:
            self.headers.setdefault(
                "content-disposition", f"attachment; filename*=utf-8''{quote(filename)}"
            )

    def prepare(self) -> int:
        """Check the file, record its size and add its metadata headers. Raises ``OSError``."""
        stat = os.stat(self.path)
        if not os.path.isfile(self.path):
            raise IsADirectoryError(self.path)
        self.size = stat.st_size
        headers = self.headers
        headers.setdefault("last-modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        headers.setdefault("etag", f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"')
        return stat.st_size

    async def chunks(self) -> AsyncIterator[bytes]:
        """Read the file in chunks off the event loop (for servers without native file sending)."""
        handle = await asyncio.to_thread(open, self.path, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, self.chunk_size):
                yield chunk
        finally:
            handle.close()
