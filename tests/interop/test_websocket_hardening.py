"""D5 on real servers: a handler that only sends learns that its peer vanished.

uvicorn (websockets-sansio and wsproto) and granian RSGI make ``send`` fail; granian ASGI
does not (its ``send`` keeps accepting frames), so the ASGI adapter watches ``receive``.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from pathlib import Path

import pytest

from tests.interop.ws_servers import WS_SERVERS, ws_server_argv
from tests.support import REPO_ROOT, free_port, running, wait_until

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.ws_hardening:app"


def open_websocket(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(head.encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 101")
    return sock


@pytest.mark.parametrize("how", ["abort", "fin"])
@pytest.mark.parametrize("kind", WS_SERVERS)
def test_send_raises_once_the_peer_vanished(kind: str, how: str, tmp_path: Path) -> None:
    port = free_port()
    env = {"VELOCIPY_HOSTILE_MARKERS": str(tmp_path)}
    with running(ws_server_argv(kind, TARGET, port), port=port, cwd=REPO_ROOT, env=env) as server:
        sock = open_websocket(port, "/flood/gone")
        if how == "abort":  # TCP RST, no close frame
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        outcome = tmp_path / "gone"
        assert wait_until(outcome.exists, timeout=20.0), server.output()
        text = outcome.read_text()
        assert text.startswith("disconnect "), text  # not "finished after 20000"
        sent = int(text.rsplit(" ", 1)[1])
        assert sent < 20_000, text
        assert "Traceback" not in server.output()
