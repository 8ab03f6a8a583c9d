"""CompressionMiddleware on both protocols: zstd, Brotli and gzip chosen by q-values, streams
compressed chunk by chunk, what is left alone, and the after-response work kept."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import brotli
import pytest
from backports import zstd

from velocipy import (
    BackgroundTasks,
    Depends,
    FileResponse,
    PlainTextResponse,
    Request,
    Response,
    StreamingResponse,
    VelociPy,
)
from velocipy.middleware import CompressionMiddleware
from velocipy.middleware.compression import (
    brotli_coding,
    encode_stream,
    gzip_coding,
    gzip_window_bits,
    preferred_encoding,
    zstd_coding,
)
from velocipy.sse import EventSourceResponse
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
TEXT = "velociraptor " * 200
DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstd.decompress,
}


async def record_outcome(request: Request) -> AsyncIterator[None]:
    events: list[str] = request.app.state.events
    try:
        yield
    except BaseException as exc:
        events.append(f"provider saw {type(exc).__name__}")
        raise
    else:
        events.append("provider commit")


Recorded = Annotated[None, Depends(record_outcome)]


class Lines:
    """Lines of ``TEXT`` as an async iterator that records when it is closed."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.lines = iter(TEXT.split(" "))

    def __aiter__(self) -> Lines:
        return self

    async def __anext__(self) -> str:
        try:
            return next(self.lines) + " "
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self.events.append("body closed")


def make_app(tmp_path: Path, **options: Any) -> VelociPy:
    app = VelociPy()
    app.state.events = []
    app.add_middleware(CompressionMiddleware, minimum_size=100, **options)
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT)

    @app.get("/text")
    async def text() -> Response:
        return PlainTextResponse(TEXT, headers={"etag": '"v1"'})

    @app.get("/small")
    async def small() -> Response:
        return PlainTextResponse("tiny")

    @app.get("/stream")
    async def stream(request: Request, tasks: BackgroundTasks, tx: Recorded) -> Response:
        tasks.add_task(request.app.state.events.append, "background")
        return StreamingResponse(Lines(request.app.state.events), media_type="text/plain")

    @app.get("/file")
    async def file(request: Request, tasks: BackgroundTasks, tx: Recorded) -> Response:
        tasks.add_task(request.app.state.events.append, "background")
        return FileResponse(text_file, media_type="text/plain")

    @app.get("/events")
    async def events() -> Response:
        async def gen() -> AsyncIterator[str]:
            yield TEXT

        return EventSourceResponse(gen())

    @app.get("/png")
    async def png() -> Response:
        return Response(TEXT, media_type="image/png")

    return app


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip, br, zstd", "zstd"),  # equal weights: the server's order (zstd, br, gzip)
        ("gzip, br", "br"),
        ("br;q=1, zstd;q=0.5", "br"),
        ("gzip;q=0.9, br;q=0.1, zstd;q=0.2", "gzip"),
        ("*", "zstd"),
        ("*;q=0.5, gzip", "gzip"),
        ("zstd;q=0, *", "br"),
        ("GZIP;Q=0.3", "gzip"),
        ("gzip;q=0, br;q=0, zstd;q=0", None),
        ("identity", None),
        ("", None),
        ("gzip;q=nonsense", None),
    ],
)
def test_the_coding_the_client_weighs_highest_is_chosen(accept: str, chosen: str | None) -> None:
    assert preferred_encoding([accept], ("zstd", "br", "gzip")) == chosen


def test_one_middleware_answers_each_accept_encoding_it_meets_and_remembers_a_bounded_few(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    """The choice is remembered per Accept-Encoding value: alternating values each get their
    own coding, two header lines count as one list, a value over 256 characters is answered
    but not kept, and past 256 distinct values (a client inventing them) nothing more is kept
    while every answer stays right."""
    app = make_app(tmp_path)
    client = client_for(app)
    middleware = next(m for m in app._middleware if isinstance(m, CompressionMiddleware))
    for size, kept in ((255, True), (256, True), (257, False)):  # at, below and above
        long_value = "br;q=0.1, " + "x" * (size - len("br;q=0.1, "))
        response = client.get("/text", headers={"accept-encoding": long_value})
        assert response.headers["content-encoding"] == "br"
        assert (long_value in middleware._chosen) is kept
    middleware._chosen.clear()
    for _ in range(2):
        for accept, chosen in (
            ("gzip", "gzip"),
            ("br", "br"),
            ("identity", None),
            ("gzip", "gzip"),
        ):
            response = client.get("/text", headers={"accept-encoding": accept})
            assert response.headers.get("content-encoding") == chosen, accept
    lines = client.get(
        "/text", headers=[("accept-encoding", "gzip;q=0.5"), ("accept-encoding", "br")]
    )
    assert lines.headers["content-encoding"] == "br"
    for n in range(300):
        accept = f"x-{n}, gzip;q=0.{n % 9 + 1}"
        response = client.get("/text", headers={"accept-encoding": accept})
        assert response.headers["content-encoding"] == "gzip"
    assert len(middleware._chosen) == 256
    assert (
        "content-encoding" not in client.get("/text", headers={"accept-encoding": "x-999"}).headers
    )


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_each_coding_compresses_bytes_streams_and_files(
    client_for: ClientFactory, tmp_path: Path, coding: str
) -> None:
    app = make_app(tmp_path)
    client = client_for(app)
    for path in ("/text", "/stream", "/file"):
        app.state.events.clear()
        response = client.get(path, headers={"accept-encoding": coding})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == coding
        assert response.headers["vary"] == "Accept-Encoding"
        assert "content-length" not in response.headers or path == "/text"
        assert DECODE[coding](response.raw_content).decode() == TEXT + (
            " " if path == "/stream" else ""
        )
        if path == "/text":
            assert response.headers["etag"] == 'W/"v1"'
            assert app.state.events == []
        elif path == "/stream":
            assert app.state.events == ["body closed", "background", "provider commit"]
        else:
            assert app.state.events == ["background", "provider commit"]


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_head_closes_the_wrapped_body_and_keeps_the_after_work(
    client_for: ClientFactory, tmp_path: Path, coding: str
) -> None:
    app = make_app(tmp_path)
    response = client_for(app).head("/stream", headers={"accept-encoding": coding})
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-encoding"] == coding
    assert app.state.events == ["body closed", "background", "provider commit"]


def test_left_alone_small_encoded_events_images_and_ranges(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    client = client_for(make_app(tmp_path))
    everything = {"accept-encoding": "zstd, br, gzip"}
    for path in ("/small", "/events", "/png"):
        response = client.get(path, headers=everything)
        assert "content-encoding" not in response.headers, path
    ranged = client.get("/file", headers={**everything, "range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert "content-encoding" not in ranged.headers
    assert ranged.content == TEXT[:10].encode()


def test_gzip_only_needs_nothing_and_offers_nothing_else(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    client = client_for(make_app(tmp_path, encodings=("gzip",)))
    response = client.get("/text", headers={"accept-encoding": "zstd, br"})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


def window_edges() -> list[int]:
    """Body sizes around each window the gzip compressor can pick (a match reaches back at
    most the window minus 262 bytes), and a few small ones."""
    deltas = (-263, -262, -261, -1, 0)
    edges = {max(0, 2**bits + delta) for bits in range(9, 17) for delta in deltas}
    return sorted(edges | {0, 1, 499, 500, 1500})


@pytest.mark.parametrize("size", window_edges())
def test_gzip_with_a_window_sized_to_the_body_gives_zlibs_default_bytes(size: int) -> None:
    words = [b"velociraptor", b"order", b"4711", b"{", b'"line":', b"gift"]
    body = b" ".join(words[(n * 7 + n // 3) % len(words)] for n in range(size))[:size]
    reference = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    expected = reference.compress(body) + reference.flush()
    compressed = gzip_coding(9).compress(body)
    assert compressed == expected
    bits, memory = gzip_window_bits(size)
    small = size + 262 <= 2 ** (zlib.MAX_WBITS - 1)
    assert (bits < zlib.MAX_WBITS) == small
    assert memory <= zlib.DEF_MEM_LEVEL
    assert gzip.decompress(compressed) == body


@pytest.mark.parametrize(
    "make", [lambda: gzip_coding(6), lambda: brotli_coding(4), lambda: zstd_coding(3)]
)
def test_stream_compression_is_incremental(make: Callable[[], Any]) -> None:
    """Each chunk can be decoded as soon as it arrives: nothing waits for the end."""
    coding = make()
    decoders: dict[str, Callable[[], Any]] = {
        "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        "br": brotli.Decompressor,
        "zstd": zstd.ZstdDecompressor,
    }
    decoder = decoders[coding.name]()
    step = getattr(decoder, "process", None) or decoder.decompress

    async def source() -> AsyncIterator[bytes]:
        for n in range(5):
            yield f"chunk {n};".encode()

    async def run() -> list[bytes]:
        stream = encode_stream(source(), coding.stream())
        return [step(piece) async for piece in stream]

    decoded = asyncio.run(run())
    assert decoded[:5] == [f"chunk {n};".encode() for n in range(5)]


@pytest.mark.parametrize(("module", "coding"), [("brotli", "br"), ("backports.zstd", "zstd")])
def test_a_missing_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, module: str, coding: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    with pytest.raises(ImportError) as missing:
        CompressionMiddleware(encodings=(coding, "gzip"))
    assert f"needs the {module!r} package: pip install -e '.[compression]'" in str(missing.value)
    CompressionMiddleware(encodings=("gzip",))  # gzip alone needs nothing


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="encodings must be some of"):
        CompressionMiddleware(encodings=("deflate",))
    with pytest.raises(ValueError, match="brotli_quality must be 0-11"):
        CompressionMiddleware(brotli_quality=12)
    with pytest.raises(ValueError, match="zstd_level must be 1-22"):
        CompressionMiddleware(zstd_level=0)


def test_gzip_alone_loads_neither_extra() -> None:
    probe = (
        "import sys\n"
        "from velocipy.middleware import CompressionMiddleware, GZipMiddleware\n"
        "GZipMiddleware(); CompressionMiddleware(encodings=('gzip',))\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [name for name in loaded if "brotli" in name or "zstd" in name] == []


@pytest.mark.parametrize("size", [99, 100, 101], ids=["below", "at", "above"])
def test_minimum_size_at_below_and_above(
    client_for: ClientFactory, tmp_path: Path, size: int
) -> None:
    """A body or file of ``minimum_size`` bytes or more is compressed; one byte less is not."""
    app = VelociPy()
    app.add_middleware(CompressionMiddleware, minimum_size=100)
    content = b"v" * size
    (tmp_path / "sized.txt").write_bytes(content)

    @app.get("/body")
    async def body() -> Response:
        return PlainTextResponse(content)

    @app.get("/file")
    async def file() -> Response:
        return FileResponse(tmp_path / "sized.txt", media_type="text/plain")

    client = client_for(app)
    for path in ("/body", "/file"):
        response = client.get(path, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        if size < 100:
            assert "content-encoding" not in response.headers, path
            assert response.content == content
        else:
            assert response.headers["content-encoding"] == "gzip", path
            assert gzip.decompress(response.raw_content) == content
