"""GZip: compress responses for clients that accept it, streams included, chunk by chunk."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from velocipy.middleware.base import CallNext, Middleware, add_vary
from velocipy.requests import Request
from velocipy.responses import FileResponse, Response, StreamingResponse

__all__ = ["GZipMiddleware", "accepted_encodings"]

# Media types that stay as they are: already compressed, or a live stream that must not wait.
_SKIPPED_TYPES = (
    "text/event-stream",
    "image/",
    "video/",
    "audio/",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "font/woff",
)
_SVG = "image/svg+xml"


class GZipMiddleware(Middleware):
    """Compress with gzip when ``Accept-Encoding`` allows it (q-values honoured).

    Bodies under ``minimum_size`` bytes, responses that already have a ``Content-Encoding``,
    ``text/event-stream`` and already-compressed media types are left alone. A streamed body is
    compressed as it is produced: every chunk is flushed, so the client never waits for more.
    ``Vary: Accept-Encoding`` is added to every response whose encoding depends on that header.
    """

    def __init__(self, minimum_size: int = 500, compresslevel: int = 9) -> None:
        if not 1 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be 1-9, not {compresslevel}")
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if not self._is_compressible(response):
            return response
        add_vary(response, "Accept-Encoding")
        if "gzip" not in accepted_encodings(request.headers.get_list("accept-encoding")):
            return response
        if response.kind == "bytes":
            response.body = gzip_bytes(response.body, self.compresslevel)
            compressed = response
        else:  # a wrapper keeps what it wraps: after-response work, and closing the body
            compressed = StreamingResponse(
                _CompressedBody(response, self.compresslevel),
                response.status_code,
                response.raw_headers,
                background=response.background,
            )
            response.background = None  # the replacement carries it now
        headers = compressed.headers
        for name in ("content-length", "accept-ranges"):
            if name in headers:
                del headers[name]
        etag = headers.get("etag")
        if etag is not None and not etag.startswith("W/"):
            headers["etag"] = "W/" + etag  # the same resource, no longer the same bytes
        headers["content-encoding"] = "gzip"
        return compressed

    def _is_compressible(self, response: Response) -> bool:
        if response.kind == "bytes" and len(response.body) < self.minimum_size:
            return False  # PERF: the common small answer is decided before any header is read
        headers = response.headers
        if "content-encoding" in headers or response.status_code in (204, 206, 304):
            return False
        media_type = (headers.get("content-type") or "").lower()
        if media_type.startswith(_SKIPPED_TYPES) and not media_type.startswith(_SVG):
            return False
        if response.kind == "bytes":
            return len(response.body) >= self.minimum_size
        if isinstance(response, FileResponse):
            return response.size >= self.minimum_size
        return isinstance(response, StreamingResponse)


def accepted_encodings(values: list[str]) -> set[str]:
    """The content codings an ``Accept-Encoding`` header allows (``q=0`` refuses one; ``*``
    stands for every coding not named)."""
    weights: dict[str, float] = {}
    for value in values:
        for item in value.split(","):
            coding, _, params = item.partition(";")
            coding = coding.strip().lower()
            if not coding:
                continue
            quality = 1.0
            for param in params.split(";"):
                key, _, number = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        quality = float(number.strip())
                    except ValueError:
                        quality = 0.0
            weights[coding] = quality
    accepted = {coding for coding, quality in weights.items() if quality > 0}
    if weights.get("*", 0) > 0:
        accepted |= {c for c in ("gzip", "br", "zstd", "deflate") if c not in weights}
    return accepted


def gzip_bytes(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class _CompressedBody:
    """The gzip stream of a response that GZip replaced; closing it closes the original's body,
    also when it was never sent (HEAD)."""

    __slots__ = ("_level", "_source", "_started")

    def __init__(self, source: Response, level: int) -> None:
        self._source = source
        self._level = level
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._started = True
        return gzip_stream(self._source.chunks(), self._level)  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if not self._started:
            await self._source.discard()


async def gzip_stream(chunks: AsyncIterator[bytes], level: int) -> AsyncIterator[bytes]:
    """One gzip stream over ``chunks``; each chunk is sync-flushed so it reaches the client now."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    try:
        async for chunk in chunks:
            if chunk:
                yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
        yield compressor.flush()
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
