"""Neutral responses: a status, a header list and one of three bodies (bytes, stream, file).

Adapters map the three kinds one-to-one onto their server: bytes -> ``response_bytes`` /
``http.response.body``; stream -> ``response_stream`` / chunked body messages; file ->
``response_file`` / ``http.response.pathsend`` (or chunked reads where the server lacks it).
Headers are ``(str, str)`` pairs with lower-case names; ``content-length`` is added by the adapter.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from stat import S_ISREG
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias
from urllib.parse import quote

from velocipy.datastructures import MutableHeaders, check_header, format_cookie
from velocipy.fileconditions import (
    UNSATISFIABLE,
    if_range_allows,
    is_not_modified,
    parse_byte_range,
)

if TYPE_CHECKING:
    from velocipy.requests import Request

__all__ = [
    "AfterResponse",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "after_failed_body",
    "close_iterable",
    "replaced_after_failure",
    "run_after_response",
]

HeadersInput = Mapping[str, str] | Sequence[tuple[str, str]] | None
BodyKind = Literal["bytes", "stream", "file", "asgi"]  # "asgi": a mounted app (mounts.py)
AfterResponse: TypeAlias = Callable[[], Awaitable[None]]
"""Work a response carries for after it was sent (background tasks, dependency teardown)."""

logger = logging.getLogger("velocipy")


class Response:
    """A response with a complete body (``bytes``, or ``str`` encoded as UTF-8)."""

    __slots__ = ("background", "body", "raw_headers", "status_code")

    kind: ClassVar[BodyKind] = "bytes"
    media_type: ClassVar[str | None] = None

    body: bytes
    status_code: int
    raw_headers: list[tuple[str, str]]
    background: AfterResponse | None

    def __init__(
        self,
        content: bytes | str | None = None,
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
        background: AfterResponse | None = None,
    ) -> None:
        self.status_code = status_code
        # PERF: bytes, the usual content, skip the render call
        self.body = content if type(content) is bytes else self.render(content)
        media_type = media_type or self.media_type
        if headers:
            self.raw_headers = _build_headers(headers, media_type)
        elif media_type is None:
            self.raw_headers = []
        else:  # PERF: the usual case, one cached content-type header, without a call
            try:  # a subscript: cheaper than dict.get
                self.raw_headers = [_CONTENT_TYPE_HEADERS[media_type]]
            except KeyError:
                self.raw_headers = [_content_type_header(media_type)]
        self.background = background

    def render(self, content: Any) -> bytes:
        """The body for ``content`` that is not already ``bytes`` (bytes are taken as they are).

        A subclass overrides this to accept other content (its own encoding, say).
        """
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

    async def discard(self) -> None:
        """Let go of a body that will not be sent (HEAD, a replaced response); bytes need
        nothing, a stream closes its producer."""

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


def _build_headers(
    headers: Mapping[str, str] | Sequence[tuple[str, str]], media_type: str | None
) -> list[tuple[str, str]]:
    """Checked, lower-cased headers the app gave, with the content type first if they lack it."""
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
        background: AfterResponse | None = None,
    ) -> None:
        self.content = content
        super().__init__(None, status_code, headers, media_type, background)
        self.body = None

    def render_json(self, encode: Callable[[Any], bytes]) -> None:
        """Encode ``content`` into ``body`` (the app calls this once, before sending)."""
        self.body = encode(self.content)


# What a Location keeps as written: RFC 3986's delimiters (gen-delims, then sub-delims) and "%",
# so an already-escaped URL is not escaped twice. quote() keeps letters, digits and "-._~"
# itself; everything else (spaces, quotes, <>, non-ASCII) is percent-encoded as UTF-8.
_LOCATION_KEEPS = ":/?#[]@" + "!$&'()*+,;=" + "%"


class RedirectResponse(Response):
    """Redirect to ``url`` (307 by default, which keeps the method and body)."""

    __slots__ = ()

    def __init__(
        self,
        url: str,
        status_code: int = 307,
        headers: HeadersInput = None,
        background: AfterResponse | None = None,
    ) -> None:
        super().__init__(None, status_code, headers, background=background)
        self.headers["location"] = quote(url, safe=_LOCATION_KEEPS)

    @classmethod
    def same_origin(
        cls,
        url: str,
        fallback: str = "/",
        status_code: int = 303,
        headers: HeadersInput = None,
    ) -> RedirectResponse:
        """Redirect to ``url`` only if it stays on this site, else to ``fallback``.

        For targets that come from the client (``?next=/account``): only a path starting with
        one ``/`` is kept. ``//evil.example``, ``/\\evil.example``, ``https://evil.example``,
        ``javascript:...`` and anything with control characters or whitespace go to
        ``fallback``. 303 (See Other) suits the usual case, a redirect after a form post.
        """
        return cls(url if is_same_origin_path(url) else fallback, status_code, headers)


def is_same_origin_path(url: str) -> bool:
    """True for a path on this site (``/a?b#c``), never for anything a browser reads as another
    origin (``//host``, ``/\\host``, a scheme) or may rewrite (control characters, spaces)."""
    return (
        url.startswith("/")
        and url[1:2] not in ("/", "\\")
        and url.isprintable()
        and not any(ch.isspace() for ch in url)
    )


class StreamingResponse(Response):
    """A body produced chunk by chunk from an async (or plain) iterable of ``bytes`` / ``str``.

    A plain iterator is advanced in a worker thread so a blocking generator never stalls the loop.
    The iterable is closed when the body ends, fails or is stopped, and, through
    :meth:`discard`, when it is never sent (HEAD, a response replaced before it went out).
    """

    __slots__ = ("content",)
    kind = "stream"

    def __init__(
        self,
        content: AsyncIterable[bytes | str] | Iterable[bytes | str],
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
        background: AfterResponse | None = None,
    ) -> None:
        super().__init__(None, status_code, headers, media_type, background)
        self.content = content

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as bytes chunks, whatever the iterable yields (closing it closes that)."""
        content = self.content
        if isinstance(content, AsyncIterable):
            return _encode_async(content)
        return _encode_async(_iterate_in_thread(iter(content)))

    async def discard(self) -> None:
        """Close the body without sending it, so the producer's ``finally`` (if it started) runs
        and a producer that never started never will."""
        await close_iterable(self.content)


async def close_iterable(content: object) -> None:
    """Close an (async) iterator or generator: ``aclose()``, or ``close()`` in a worker thread."""
    aclose = getattr(content, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(content, "close", None)
    if close is not None:
        await asyncio.to_thread(close)


async def _encode_async(content: AsyncIterable[bytes | str]) -> AsyncIterator[bytes]:
    iterator = aiter(content)
    try:
        async for chunk in iterator:
            yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    finally:  # closed here, not by the garbage collector: its finally runs now
        await close_iterable(iterator)


_DONE = object()


async def _iterate_in_thread(iterator: Iterator[bytes | str]) -> AsyncIterator[bytes | str]:
    advancing = False
    try:
        while True:
            advancing = True
            chunk = await asyncio.to_thread(next, iterator, _DONE)
            advancing = False
            if chunk is _DONE:
                return
            yield chunk  # type: ignore[misc]
    finally:
        # Interrupted while its thread still runs next(): closing it now would fail ("generator
        # already executing"); that thread ends it on its own, so only an idle one is closed.
        close = getattr(iterator, "close", None)
        if close is not None and not advancing:
            await asyncio.to_thread(close)


class FileResponse(Response):
    """Send the file at ``path``; the server streams it natively where it can.

    ``filename`` adds ``Content-Disposition: attachment``. The file is looked at when the
    response is sent: a missing file answers 404. A 200 file response answers conditional
    GETs (``If-None-Match`` / ``If-Modified-Since`` -> 304) and single byte ranges
    (``Range`` -> 206, or 416 when unsatisfiable); see ``velocipy.fileconditions``.
    Never build ``path`` from user input with ``os.path.join``: use
    :func:`velocipy.staticfiles.safe_join`.
    """

    __slots__ = ("byte_range", "filename", "path", "size", "stat_result")
    kind = "file"
    chunk_size: ClassVar[int] = 64 * 1024

    body: bytes | None  # type: ignore[assignment]  # always None: the file is the body

    byte_range: tuple[int, int] | None
    """``(start, end)`` with ``end`` exclusive when a 206 sends part of the file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
        filename: str | None = None,
        background: AfterResponse | None = None,
        stat_result: os.stat_result | None = None,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.filename = filename
        self.size = 0
        self.byte_range = None
        self.stat_result = stat_result
        if media_type is None:
            import mimetypes  # PERF: loaded by the first file served, not by `import velocipy`

            guessed, _ = mimetypes.guess_type(filename or self.path)
            media_type = guessed or "application/octet-stream"
        super().__init__(None, status_code, headers, media_type, background)
        self.body = None  # the app prepares a file response before it is sent (see prepare)
        if filename is not None:
            self.headers.setdefault(
                "content-disposition", f"attachment; filename*=utf-8''{quote(filename)}"
            )

    @property
    def content_length(self) -> int:
        """How many bytes go out: the range's length for a 206, else the file's size."""
        if self.byte_range is None:
            return self.size
        return self.byte_range[1] - self.byte_range[0]

    def prepare(self, request: Request | None = None) -> Response:
        """Check the file, add its metadata headers and answer ``request``'s conditions.

        Returns this response (200, or 206 with ``byte_range`` set), or a bodiless 304 / 416
        in its place. Raises ``OSError`` when the file cannot be served.
        """
        stat_result = self.stat_result or os.stat(self.path)
        if not S_ISREG(stat_result.st_mode):
            raise IsADirectoryError(self.path)
        self.size = size = stat_result.st_size
        mtime = int(stat_result.st_mtime)
        headers = self.headers
        if "last-modified" not in headers:
            from email.utils import formatdate  # PERF: as mimetypes above

            headers["last-modified"] = formatdate(mtime, usegmt=True)
        headers.setdefault("etag", f'"{stat_result.st_mtime_ns:x}-{size:x}"')
        headers.setdefault("accept-ranges", "bytes")
        if request is None or self.status_code != 200 or request.method not in ("GET", "HEAD"):
            return self
        asked = request.headers
        etag = headers.get("etag")
        if is_not_modified(asked.get("if-none-match"), asked.get("if-modified-since"), etag, mtime):
            return self._bodiless(304, _NOT_MODIFIED_HEADERS, b"")
        range_header = asked.get("range")
        if (
            range_header is None
            or request.method != "GET"
            or not if_range_allows(asked.get("if-range"), etag, mtime)
        ):
            return self
        found = parse_byte_range(range_header, size)
        if found == UNSATISFIABLE:
            refused = self._bodiless(416, _NOT_SATISFIABLE_HEADERS, _NOT_SATISFIABLE_BODY)
            refused.raw_headers.append(("content-range", f"bytes */{size}"))
            return refused
        if isinstance(found, tuple):
            start, end = self.byte_range = found
            self.status_code = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        return self

    def _bodiless(self, status: int, kept: frozenset[str], body: bytes) -> Response:
        headers = [(name, value) for name, value in self.raw_headers if name in kept]
        if body:
            headers.append(_content_type_header("application/json"))
        answer = Response(body, status, None, None, self.background)
        answer.raw_headers = headers
        return answer

    async def chunks(self) -> AsyncIterator[bytes]:
        """Read the file (or its byte range) in chunks off the event loop: exactly the announced
        ``content_length`` bytes, whatever the file does meanwhile.

        For servers without native file sending, and for ranges on ASGI (``pathsend`` has none).
        A file that grew is cut at the announced length; one that shrank raises ``OSError``
        (the client was promised more than there is).
        """
        start = self.byte_range[0] if self.byte_range else 0
        remaining = self.content_length
        handle = await asyncio.to_thread(open, self.path, "rb")
        try:
            if start:
                handle.seek(start)
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(self.chunk_size, remaining))
                if not chunk:
                    raise OSError(
                        f"{self.path} shrank while it was sent: "
                        f"{remaining} of the announced {self.content_length} bytes are missing"
                    )
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()


# What a 304 keeps of the 200 it stands for (RFC 9110 section 15.4.5), and what a 416 keeps.
_NOT_MODIFIED_HEADERS = frozenset(
    {"cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"}
)
_NOT_SATISFIABLE_HEADERS = frozenset({"accept-ranges", "cache-control", "etag", "last-modified"})
_NOT_SATISFIABLE_BODY = b'{"detail":"Range Not Satisfiable"}'


async def run_after_response(response: Response, failure: BaseException | None = None) -> None:
    """Run what ``response`` carries for after it was sent; a failure is logged, never raised.

    Adapters call this once the last byte went to the server, and only when
    ``response.background`` is set, so a response without such work pays one attribute check.
    With ``failure`` (the body failed after it started) background tasks are skipped, with a
    warning, and ``yield`` providers get ``failure`` thrown in at their ``yield``: the same rule
    as for a handler that raised. See :func:`after_failed_body`.
    """
    after = response.background
    if after is None:
        return
    try:
        if failure is None:
            await after()
        else:
            await after_failed_body(after, failure)
    except Exception:
        logger.exception("work after the response (background task or teardown) failed")


def replaced_after_failure(
    original: Response, replacement: Response, failure: BaseException
) -> Response:
    """``replacement`` (an error answer) in place of ``original``, which could not be sent.

    The original's body is closed unsent and its after-response work follows the failed-body
    rule (tasks skipped with a warning, ``yield`` providers see ``failure``) once the
    replacement was sent: a wrapper keeps what it wraps.
    """
    background = original.background
    if background is None and original.kind == "bytes":
        return replacement

    async def after() -> None:
        try:
            await original.discard()
        finally:
            if background is not None:
                await after_failed_body(background, failure)

    replacement.background = after
    return replacement


async def after_failed_body(work: AfterResponse, failure: BaseException) -> None:
    """What ``work`` does when the body it follows failed after it started.

    Work that knows (it has an ``after_failed_body(failure)`` method: dependency teardown, a
    chain of works) is told; any other work is skipped and a warning names it.
    """
    told = getattr(work, "after_failed_body", None)
    if told is not None:
        await told(failure)
        return
    logger.warning(
        "skipped %r: the response failed (%s: %s)",
        work,
        type(failure).__name__,
        failure,
    )
