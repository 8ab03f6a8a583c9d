"""A client that stops reading a streamed response: how much memory each server holds for it.

uvicorn and granian ASGI make ``send`` wait while the client does not read, so the generator is
held back and the worker's memory stays flat. granian's RSGI stream transport has an unbounded
channel (granian 2.8): ``send_bytes`` never waits, the whole stream piles up in the worker. No
call in RSGI tells the app how much the client took, so VelociPy cannot bound it; the limit is
documented (docs/servers.md) and `velocipy run` warns about it. This test keeps the measurement:
it fails when granian's behaviour changes (then update the docs and the warning).

The client is bounded (a small receive buffer, no reads) and the test watches the worker's RSS
against a hard cap: past it, the server is killed and the test fails at once.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.interop.apps import flood_app
from tests.support import REPO_ROOT, ServerProcess, free_port, http_request, server_argv

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.flood_app:app"
STREAM_MIB = 96  # what the generator produces
HARD_CAP_MIB = 400  # growth of the worker's RSS that aborts the test (kills the server)
BOUNDED_MIB = 24  # what a server with backpressure may grow by at most


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def watch_non_reading_client(
    server: ServerProcess, markers: Path, seconds: float, path: str
) -> tuple[float, bool]:
    """GET ``path``, read nothing for ``seconds``; (worker RSS growth in MiB, generator done)."""
    pid = json.loads(http_request(server.url + "/pid").body)["pid"]
    before = rss_mib(pid)
    grown = 0.0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            grown = max(grown, rss_mib(pid) - before)
            if grown > HARD_CAP_MIB:
                server.stop()
                pytest.fail(f"worker RSS grew by {grown:.0f} MiB: aborted at the hard cap")
            time.sleep(0.05)
        done = (markers / "slow-done").exists()
    return grown, done


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("uvicorn", "stream"),
        ("granian-asgi", "stream"),
        ("granian-rsgi", "stream"),
        ("granian-rsgi", "file"),  # the docs' advice for RSGI: granian reads files at the pace
    ],
)
def test_memory_held_for_a_client_that_stops_reading(kind: str, body: str, tmp_path: Path) -> None:
    if body == "file":
        big = tmp_path / "big.bin"
        big.write_bytes(flood_app.CHUNK * STREAM_MIB * 16)
        path = f"/file?path={big}"
    else:
        path = f"/flood/slow?mib={STREAM_MIB}"
    port = free_port()
    process = ServerProcess(
        server_argv(kind, TARGET, port),
        port,
        REPO_ROOT,
        {flood_app.MARKER_DIR_VARIABLE: str(tmp_path)},
        log_path=tmp_path / "server.log",
    ).start()
    try:
        process.wait_ready()
        grown, done = watch_non_reading_client(process, tmp_path, 3.0, path)
        assert process.alive(), process.output()
    finally:
        process.stop()
    if (kind, body) == ("granian-rsgi", "stream"):
        # The limit, measured: the generator ran to its end for a client that read nothing,
        # and the worker holds (most of) the stream.
        assert done, process.output()
        assert grown > STREAM_MIB / 2, f"RSS grew by {grown:.1f} MiB only"
    else:
        # Backpressure: the generator (or granian's file reader) waits for the client.
        assert not done
        assert grown < BOUNDED_MIB, f"RSS grew by {grown:.1f} MiB"
