"""An SSE client that leaves stops the handler's generator, on every server.

A client reads a few events and hangs up; the generator's ``finally`` writes a marker file,
also when it is waiting with nothing to send but pings.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.interop.test_sse_interop import server
from tests.support import ServerProcess, wait_until

pytestmark = pytest.mark.interop
__all__ = ["server"]

STOP_BOUND = 5.0  # seconds a stopped client may wait for the generator's finally (bounded)


def _leave_after_reading(server: ServerProcess, path: str, wanted: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10.0) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while received.count(wanted) < 2:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk


@pytest.mark.parametrize("route", ["endless", "quiet"])
def test_generator_stops_when_the_client_leaves(server: ServerProcess, route: str) -> None:
    markers: Path = server.markers  # type: ignore[attr-defined]
    name = f"{route}-{server.port}"
    wanted = b"event: tick" if route == "endless" else b": ping"
    _leave_after_reading(server, f"/{route}/{name}", wanted)
    assert (markers / f"{name}-started").exists()
    stopped = wait_until(lambda: (markers / f"{name}-finally").exists(), timeout=STOP_BOUND)
    assert stopped, f"the generator still runs {STOP_BOUND}s after the client left"
    assert server.alive()
    assert "Traceback" not in server.output(), server.output()
