"""GZip: compress responses for clients that accept it, streams included, chunk by chunk.

gzip alone, with nothing beyond Python: :class:`~velocipy.middleware.CompressionMiddleware`
with ``encodings=("gzip",)``. For zstd and Brotli as well, use that middleware itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from velocipy.middleware.compression import (
    CompressionMiddleware,
    accepted_encodings,
    encode_stream,
    gzip_coding,
)

__all__ = ["GZipMiddleware", "accepted_encodings", "gzip_bytes", "gzip_stream"]


class GZipMiddleware(CompressionMiddleware):
    """Compress with gzip when ``Accept-Encoding`` allows it (q-values honoured).

    Bodies under ``minimum_size`` bytes, responses that already have a ``Content-Encoding``,
    ``text/event-stream`` and already-compressed media types are left alone. A streamed body is
    compressed as it is produced: every chunk is flushed, so the client never waits for more.
    ``Vary: Accept-Encoding`` is added to every response whose encoding depends on that header.
    """

    def __init__(self, minimum_size: int = 500, compresslevel: int = 9) -> None:
        if not 1 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be 1-9, not {compresslevel}")
        super().__init__(minimum_size, ("gzip",), gzip_level=compresslevel)
        self.compresslevel = compresslevel


def gzip_bytes(body: bytes, level: int) -> bytes:
    return gzip_coding(level).compress(body)


def gzip_stream(chunks: AsyncIterator[bytes], level: int) -> AsyncIterator[bytes]:
    """One gzip stream over ``chunks``; each chunk is sync-flushed so it reaches the client now."""
    return encode_stream(chunks, gzip_coding(level).stream())
