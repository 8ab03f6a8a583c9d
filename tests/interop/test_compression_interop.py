"""CompressionMiddleware on real uvicorn, granian RSGI and granian ASGI: each coding as the
client asks for it, streams that reach the client chunk by chunk, after-response work kept."""

from __future__ import annotations

import gzip
import http.client
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from backports import zstd

from tests.interop.apps import compression_app
from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, server_argv, wait_until

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.compression_app:app"
DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstd.decompress,
}
DECODERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "br": brotli.Decompressor,
    "zstd": zstd.ZstdDecompressor,
}


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    kind = str(request.param)
    markers = tmp_path_factory.mktemp(f"compression-markers-{kind}")
    port = free_port()
    process = ServerProcess(
        server_argv(kind, TARGET, port),
        port,
        REPO_ROOT,
        {compression_app.MARKER_DIR_VARIABLE: str(markers)},
        log_path=tmp_path_factory.mktemp(f"compression-log-{kind}") / "server.log",
    ).start()
    try:
        process.wait_ready()
        process.markers = markers  # type: ignore[attr-defined]
        yield process
    finally:
        process.stop()


def marker(server: ServerProcess, name: str) -> Path:
    return server.markers / name  # type: ignore[attr-defined,no-any-return]


def get(server: ServerProcess, path: str, accept: str) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": accept})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("zstd", "zstd"), ("br", "br"), ("gzip", "gzip"), ("gzip;q=0.5, br;q=0.9", "br")],
)
def test_each_coding_on_a_stream_with_after_work(
    server: ServerProcess, accept: str, coding: str
) -> None:
    name = f"stream-{coding}-{len(accept)}"
    response, body = get(server, f"/stream/{name}", accept)
    assert response.status == 200
    assert response.getheader("content-encoding") == coding
    assert DECODE[coding](body).decode() == compression_app.LINE * 100
    assert wait_until(marker(server, f"{name}-background").exists, timeout=10.0)
    assert wait_until(marker(server, f"{name}-provider-commit").exists, timeout=10.0)


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_a_compressed_stream_arrives_chunk_by_chunk(server: ServerProcess, coding: str) -> None:
    """The first line decodes while the generator still waits; leaving then stops it."""
    name = f"slow-{coding}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        connection.request("GET", f"/slow/{name}", headers={"Accept-Encoding": coding})
        response = connection.getresponse()
        assert response.getheader("content-encoding") == coding
        decoder = DECODERS[coding]()
        step = getattr(decoder, "process", None) or decoder.decompress
        decoded = b""
        while compression_app.LINE.encode() not in decoded:
            piece = response.read1(65536)
            assert piece, decoded
            decoded += step(piece)
    finally:
        connection.close()
    assert decoded == compression_app.LINE.encode()
    assert wait_until(marker(server, f"{name}-finally").exists, timeout=10.0), server.output()


def test_event_streams_are_never_compressed(server: ServerProcess) -> None:
    response, body = get(server, "/events", "zstd, br, gzip")
    assert response.getheader("content-encoding") is None
    assert body.count(b"data: a line of a stream") == 20
