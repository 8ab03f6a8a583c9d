"""GZipMiddleware on both protocols: q-values, sizes, skipped types, streams, Vary."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from velocipy import PlainTextResponse, Response, StreamingResponse, VelociPy
from velocipy.middleware import GZipMiddleware
from velocipy.middleware.gzip import accepted_encodings, gzip_stream
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
BIG = "velociraptor " * 200


def make_app() -> VelociPy:
    app = VelociPy()
    app.add_middleware(GZipMiddleware, minimum_size=100)

    @app.get("/big")
    async def big() -> Response:
        return PlainTextResponse(BIG, headers={"etag": '"v1"'})

    @app.get("/small")
    async def small() -> Response:
        return PlainTextResponse("tiny")

    @app.get("/encoded")
    async def encoded() -> Response:
        return Response(gzip.compress(BIG.encode()), headers={"content-encoding": "gzip"})

    @app.get("/events")
    async def events() -> Response:
        async def gen() -> AsyncIterator[str]:
            yield "data: one\n\n" * 50

        return StreamingResponse(gen(), media_type="text/event-stream")

    @app.get("/stream")
    async def stream() -> Response:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(20):
                yield f"line {i} {'x' * 50}\n".encode()

        return StreamingResponse(gen(), media_type="text/plain")

    return app


def test_compresses_when_accepted(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    response = client.get("/big", headers={"accept-encoding": "gzip, deflate"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["etag"] == 'W/"v1"'
    assert int(response.headers["content-length"]) == len(response.raw_content) < len(BIG)
    assert gzip.decompress(response.raw_content).decode() == BIG
    assert response.text == BIG  # the test client decodes it


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0", "br", "*;q=0", "gzip;q=0, *;q=1"])
def test_not_compressed_when_refused(client_for: ClientFactory, accept: str) -> None:
    response = client_for(make_app()).get("/big", headers={"accept-encoding": accept})
    assert "content-encoding" not in response.headers
    assert response.text == BIG
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize("accept", ["gzip;q=0.5", "*", "deflate;q=1, GZIP;q=0.1"])
def test_q_values_that_still_accept(client_for: ClientFactory, accept: str) -> None:
    response = client_for(make_app()).get("/big", headers={"accept-encoding": accept})
    assert response.headers["content-encoding"] == "gzip"


def test_skips_small_encoded_and_event_streams(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    small = client.get("/small", headers={"accept-encoding": "gzip"})
    assert ("content-encoding" in small.headers, "vary" in small.headers) == (False, False)
    encoded = client.get("/encoded", headers={"accept-encoding": "gzip"})
    assert encoded.headers["content-encoding"] == "gzip"
    assert gzip.decompress(encoded.raw_content).decode() == BIG  # compressed once, not twice
    events = client.get("/events", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in events.headers
    assert events.text.startswith("data: one")


def test_streams_are_compressed(client_for: ClientFactory) -> None:
    response = client_for(make_app()).get("/stream", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    expected = "".join(f"line {i} {'x' * 50}\n" for i in range(20))
    assert gzip.decompress(response.raw_content).decode() == expected
    assert response.text == expected


def test_stream_compression_is_incremental() -> None:
    """Each chunk comes out decodable as soon as it goes in, before the stream ends."""
    gate = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"first chunk"
        await gate.wait()
        yield b"second chunk"

    async def run() -> None:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        stream = gzip_stream(source(), 6)
        first = await stream.__anext__()
        assert decoder.decompress(first) == b"first chunk"  # the second has not been produced
        gate.set()
        rest = b"".join([chunk async for chunk in stream])
        assert decoder.decompress(rest) == b"second chunk"
        assert decoder.eof

    asyncio.run(run())


def test_accept_encoding_parsing() -> None:
    assert accepted_encodings(["gzip;q=0.8, br;q=0"]) == {"gzip"}
    assert "gzip" in accepted_encodings(["*"])
    assert accepted_encodings(["gzip;q=nonsense"]) == set()


def test_compresslevel_is_checked() -> None:
    with pytest.raises(ValueError, match="compresslevel"):
        GZipMiddleware(compresslevel=11)
