"""Compression: zstd, Brotli and gzip, chosen by the client's ``Accept-Encoding`` q-values.

gzip needs nothing beyond Python. Brotli (``brotli``) and zstd (Python's own
``compression.zstd`` from 3.14, ``backports.zstd`` before) come with the ``compression`` extra
and are imported when a middleware that offers them is built. Streams are compressed as they
are produced, each chunk flushed so the client never waits for more. A wrapper keeps what it
wraps: the compressed response carries the original's after-response work and closes its body.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from importlib import import_module
from types import ModuleType
from typing import Any, Protocol

from velocipy.middleware.base import CallNext, Middleware, add_vary
from velocipy.requests import Request
from velocipy.responses import FileResponse, Response, StreamingResponse

__all__ = ["CompressionMiddleware", "accepted_encodings", "preferred_encoding"]

# Media types that stay as they are: already compressed, or a live stream that must not wait.
_SKIPPED_TYPES = (
    "text/event-stream",
    "image/",
    "video/",
    "audio/",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-brotli",
    "font/woff",
)
_SVG = "image/svg+xml"
_KNOWN = ("zstd", "br", "gzip", "deflate")
_CHOICES_KEPT = 256  # distinct Accept-Encoding values remembered per middleware
_CHOICE_KEY_LIMIT = 256  # ... each at most this long (browsers send under 50 characters)
_EXTRA_HINT = "pip install -e '.[compression]' (or add the compression extra to your project)"


class StreamEncoder(Protocol):
    """One compressed stream: ``chunk`` returns what can be sent now, ``end`` the rest."""

    def chunk(self, data: bytes) -> bytes: ...

    def end(self) -> bytes: ...


class Coding:
    """A content coding: its token, a whole-body compressor and a stream encoder factory."""

    __slots__ = ("compress", "name", "stream")

    def __init__(
        self,
        name: str,
        compress: Callable[[bytes], bytes],
        stream: Callable[[], StreamEncoder],
    ) -> None:
        self.name = name
        self.compress = compress
        self.stream = stream


class _GzipStream:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def end(self) -> bytes:
        return self._compressor.flush()


def gzip_window_bits(size: int) -> tuple[int, int]:
    """zlib's ``wbits`` and ``memLevel`` for a whole body of ``size`` bytes.

    PERF: zlib's defaults (a 32 KiB window, memLevel 8) allocate about 260 KiB per
    compressor, which the allocator maps and the kernel zeroes on every response: 40 us of a
    1.5 KiB JSON answer in a server. A window that still reaches back over the whole body (a
    match may start at most the window size minus 262 bytes back) and a hash table sized to
    it give the same bytes at a tenth of the cost; bodies over 32 KiB keep the defaults.
    """
    bits = min(max((size + 261).bit_length(), 9), zlib.MAX_WBITS)  # 2**bits >= size + 262
    return bits, min(bits - 6, zlib.DEF_MEM_LEVEL)


def gzip_coding(level: int) -> Coding:
    def compress(body: bytes) -> bytes:
        bits, memory = gzip_window_bits(len(body))
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + bits, memory)
        return compressor.compress(body) + compressor.flush()

    return Coding("gzip", compress, lambda: _GzipStream(level))


def brotli_coding(quality: int) -> Coding:
    brotli: Any = _import_extra("brotli", "Brotli")

    class BrotliStream:
        __slots__ = ("_compressor",)

        def __init__(self) -> None:
            self._compressor = brotli.Compressor(quality=quality)

        def chunk(self, data: bytes) -> bytes:
            return self._compressor.process(data) + self._compressor.flush()  # type: ignore[no-any-return]

        def end(self) -> bytes:
            return self._compressor.finish()  # type: ignore[no-any-return]

    return Coding("br", lambda body: brotli.compress(body, quality=quality), BrotliStream)


def zstd_coding(level: int) -> Coding:
    zstd: Any = _zstd_module()

    class ZstdStream:
        __slots__ = ("_compressor",)

        def __init__(self) -> None:
            self._compressor = zstd.ZstdCompressor(level=level)

        def chunk(self, data: bytes) -> bytes:
            flush_block = zstd.ZstdCompressor.FLUSH_BLOCK
            return self._compressor.compress(data, mode=flush_block)  # type: ignore[no-any-return]

        def end(self) -> bytes:
            return self._compressor.flush()  # type: ignore[no-any-return]

    return Coding("zstd", lambda body: zstd.compress(body, level=level), ZstdStream)


def _zstd_module() -> ModuleType:
    try:
        return import_module("compression.zstd")  # Python 3.14+
    except ImportError:
        return _import_extra("backports.zstd", "zstd")


def _import_extra(module: str, label: str) -> ModuleType:
    try:
        return import_module(module)
    except ImportError:
        raise ImportError(
            f"{label} compression needs the {module!r} package: {_EXTRA_HINT}"
        ) from None


class CompressionMiddleware(Middleware):
    """Compress with the coding the client prefers among ``encodings`` (zstd, br, gzip).

    The client's q-values decide; among equal ones the order of ``encodings`` does. Bodies under
    ``minimum_size`` bytes, responses that already have a ``Content-Encoding``, partial
    responses (206), ``text/event-stream`` and already-compressed media types are left alone.
    ``Vary: Accept-Encoding`` is added to every response whose encoding depends on that header.
    """

    def __init__(
        self,
        minimum_size: int = 500,
        encodings: Sequence[str] = ("zstd", "br", "gzip"),
        *,
        gzip_level: int = 9,
        brotli_quality: int = 4,
        zstd_level: int = 3,
    ) -> None:
        if not 1 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be 1-9, not {gzip_level}")
        if not 0 <= brotli_quality <= 11:
            raise ValueError(f"brotli_quality must be 0-11, not {brotli_quality}")
        if not 1 <= zstd_level <= 22:
            raise ValueError(f"zstd_level must be 1-22, not {zstd_level}")
        unknown = [name for name in encodings if name not in ("zstd", "br", "gzip")]
        if unknown or not encodings:
            raise ValueError(f"encodings must be some of 'zstd', 'br', 'gzip', not {unknown}")
        build = {
            "gzip": lambda: gzip_coding(gzip_level),
            "br": lambda: brotli_coding(brotli_quality),
            "zstd": lambda: zstd_coding(zstd_level),
        }
        self.minimum_size = minimum_size
        self.codings = {name: build[name]() for name in dict.fromkeys(encodings)}
        # PERF: clients send a handful of distinct Accept-Encoding values, each parsed once.
        self._chosen: dict[str, str | None] = {}

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if not self._is_compressible(response):
            return response
        add_vary(response, "Accept-Encoding")
        chosen = self._choose(",".join(request.headers.get_list("accept-encoding")))
        if chosen is None:
            return response
        coding = self.codings[chosen]
        if response.kind == "bytes":
            response.body = coding.compress(response.body)
            compressed = response
        else:  # a wrapper keeps what it wraps: after-response work, and closing the body
            compressed = StreamingResponse(
                CompressedBody(response, coding.stream),
                response.status_code,
                response.raw_headers,
                background=response.background,
            )
            response.background = None  # the replacement carries it now
        # PERF: one pass over the (lower-cased) header list rather than a lookup per header
        headers: list[tuple[str, str]] = []
        for name, value in compressed.raw_headers:
            if name == "content-length" or name == "accept-ranges":
                continue
            if name == "etag" and not value.startswith("W/"):
                value = "W/" + value  # the same resource, no longer the same bytes
            headers.append((name, value))
        headers.append(("content-encoding", chosen))
        compressed.raw_headers = headers
        return compressed

    def _choose(self, accept_encoding: str) -> str | None:
        """The coding for an ``Accept-Encoding`` value (its lines joined with commas)."""
        try:
            return self._chosen[accept_encoding]
        except KeyError:
            chosen = preferred_encoding([accept_encoding], self.codings)
            # bounded in number and size: a client inventing values fills no memory
            if len(self._chosen) < _CHOICES_KEPT and len(accept_encoding) <= _CHOICE_KEY_LIMIT:
                self._chosen[accept_encoding] = chosen
            return chosen

    def _is_compressible(self, response: Response) -> bool:
        if response.kind == "bytes" and len(response.body) < self.minimum_size:
            return False  # PERF: the common small answer is decided before any header is read
        if response.status_code in (204, 206, 304):
            return False
        media_type = ""
        for name, value in response.raw_headers:  # PERF: one pass, names are lower-cased
            if name == "content-encoding":
                return False
            if name == "content-type" and not media_type:
                media_type = value.lower()
        if media_type.startswith(_SKIPPED_TYPES) and not media_type.startswith(_SVG):
            return False
        if response.kind == "bytes":
            return len(response.body) >= self.minimum_size
        if isinstance(response, FileResponse):
            return response.byte_range is None and response.size >= self.minimum_size
        return isinstance(response, StreamingResponse)


def _weights(values: list[str]) -> dict[str, float]:
    """Each coding an ``Accept-Encoding`` header names, with its q-value (1 when not given)."""
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
                        quality = min(max(float(number.strip()), 0.0), 1.0)
                    except ValueError:
                        quality = 0.0
            weights[coding] = quality
    return weights


def accepted_encodings(values: list[str]) -> set[str]:
    """The content codings an ``Accept-Encoding`` header allows (``q=0`` refuses one; ``*``
    stands for every coding not named)."""
    weights = _weights(values)
    accepted = {coding for coding, quality in weights.items() if quality > 0}
    if weights.get("*", 0) > 0:
        accepted |= {coding for coding in _KNOWN if coding not in weights}
    return accepted


def preferred_encoding(values: list[str], offered: Iterable[str]) -> str | None:
    """The coding of ``offered`` the client weighs highest (``offered``'s order breaks ties);
    None when it accepts none of them."""
    weights = _weights(values)
    anything = weights.get("*", 0.0)
    best: str | None = None
    best_quality = 0.0
    for coding in offered:
        quality = weights.get(coding, anything)
        if quality > best_quality:
            best, best_quality = coding, quality
    return best


class CompressedBody:
    """The compressed stream of a response that was replaced; closing it closes the original's
    body, also when it was never sent (HEAD)."""

    __slots__ = ("_encoder", "_source", "_started")

    def __init__(self, source: Response, encoder: Callable[[], StreamEncoder]) -> None:
        self._source = source
        self._encoder = encoder
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._started = True
        return encode_stream(self._source.chunks(), self._encoder())  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if not self._started:
            await self._source.discard()


async def encode_stream(
    chunks: AsyncIterator[bytes], encoder: StreamEncoder
) -> AsyncIterator[bytes]:
    """One compressed stream over ``chunks``; each chunk is flushed so it reaches the client now."""
    try:
        async for chunk in chunks:
            if chunk:
                yield encoder.chunk(chunk)
        yield encoder.end()
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
