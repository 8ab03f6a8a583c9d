"""D5 on real servers: a handler that only sends learns that its peer vanished.

uvicorn (websockets-sansio and wsproto) and granian RSGI make ``send`` fail; granian ASGI
does not (its ``send`` keeps accepting frames), so the ASGI adapter watches ``receive``.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from websockets.sync.client import connect

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


@pytest.mark.parametrize("kind", WS_SERVERS)
def test_a_handler_that_only_sends_lets_other_tasks_run(kind: str) -> None:
    """uvicorn's send never yields to the event loop: VelociPy's does every 256 KiB, so a
    sender cannot starve the server's other connections (granian's sends always yield)."""
    port = free_port()
    with running(ws_server_argv(kind, TARGET, port), port=port, cwd=REPO_ROOT) as server:
        with connect(f"ws://127.0.0.1:{port}/shares-the-loop", max_size=None) as client:
            frames = 0
            while isinstance(message := client.recv(timeout=10), bytes):
                frames += 1
        assert frames == 4096
        ticks = int(message.split()[1])
        # One yield per 256 KiB at least, counted from the second send (the first after the
        # accept counts as an answer, which is not watched).
        assert ticks >= (4096 - 1) * 1024 // (256 * 1024), message
        assert "Traceback" not in server.output()


# --- reliability.md 7.F: hostile handshakes (server territory: pinned as docs/security.md says) --

# name: (extra header bytes, variant of the key/version headers)
HANDSHAKES: dict[str, tuple[bytes, str]] = {
    "non-ascii-subprotocol": ("Sec-WebSocket-Protocol: caf\u00e9, x\r\n".encode("latin-1"), ""),
    "missing-key": (b"", "no-key"),
    "version-8": (b"", "version-8"),
    "9-kib-header": (b"X-Big: " + b"a" * 9216 + b"\r\n", ""),
}


def _uvicorn_big_header_answer() -> str:
    """uvicorn's answer to a 9 KiB handshake header, by release: both answers are safe.

    Up to 0.54 the websockets-sansio handshake never answered (an upstream bug); 0.55 refuses
    the oversized header with 431 before the handshake starts.
    """
    major, minor = (int(part) for part in version("uvicorn").split(".")[:2])
    return "431" if (major, minor) >= (0, 55) else "no answer"


EXPECTED: dict[str, dict[str, str]] = {
    "uvicorn": {
        "non-ascii-subprotocol": "400",
        "missing-key": "400",
        "version-8": "400",
        "9-kib-header": _uvicorn_big_header_answer(),
    },
    "uvicorn-wsproto": {
        "non-ascii-subprotocol": "dropped",  # wsproto fails inside its handshake (upstream bug)
        "missing-key": "400",
        "version-8": "426",
        "9-kib-header": "101",
    },
    "granian-rsgi": {
        "non-ascii-subprotocol": "101",
        "missing-key": "400",
        "version-8": "400",
        "9-kib-header": "101",
    },
    "granian-asgi": {
        "non-ascii-subprotocol": "101",
        "missing-key": "400",
        "version-8": "400",
        "9-kib-header": "101",
    },
}


def handshake_answer(port: int, case: str) -> str:
    extra, variant = HANDSHAKES[case]
    lines = ["GET /echo HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"]
    lines.append("Sec-WebSocket-Version: " + ("8" if variant == "version-8" else "13"))
    if variant != "no-key":
        lines.append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    with socket.create_connection(("127.0.0.1", port), timeout=3.0) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n").encode() + extra + b"\r\n")
        received = b""
        try:
            while b"\r\n" not in received and (chunk := sock.recv(4096)):
                received += chunk
        except TimeoutError:
            return "no answer"
    if not received:
        return "dropped"
    return received.split(b" ", 2)[1].decode()


@pytest.mark.parametrize("kind", WS_SERVERS)
def test_hostile_handshakes_get_the_documented_answer(kind: str) -> None:
    port = free_port()
    with running(ws_server_argv(kind, TARGET, port), port=port, cwd=REPO_ROOT) as server:
        answers = {case: handshake_answer(port, case) for case in HANDSHAKES}
        assert answers == EXPECTED[kind]
        assert server.alive()
        with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=10) as ws:  # still serving
            ws.send("still up")
            assert ws.recv(timeout=10) == "still up"
        assert "Unhandled error" not in server.output()  # VelociPy itself logged nothing


def tree_rss_mib(pid: int) -> int:
    """Resident memory of ``pid`` and its children (granian's worker), from /proc."""
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(entry.name) != pid and parent != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_kib // 1024


@pytest.mark.parametrize("kind", WS_SERVERS)
def test_a_client_that_never_reads_holds_the_sender_back(kind: str, tmp_path: Path) -> None:
    """7.G.46: a flood to a client that does not read waits in send; memory stays flat
    (20,000 frames of 64 KiB would be 1.3 GB if anything queued them without bound)."""
    port = free_port()
    env = {"VELOCIPY_HOSTILE_MARKERS": str(tmp_path)}
    with running(ws_server_argv(kind, TARGET, port), port=port, cwd=REPO_ROOT, env=env) as server:
        assert server.process is not None
        before = tree_rss_mib(server.process.pid)
        sock = open_websocket(port, "/flood/slow")
        try:
            time.sleep(3.0)  # the handler sends as fast as the server lets it, for 3 s
            grown = tree_rss_mib(server.process.pid) - before
            assert grown < 50, f"server memory grew by {grown} MiB"
            assert not (tmp_path / "slow").exists()  # still held back in send
        finally:
            sock.close()
        assert wait_until((tmp_path / "slow").exists, timeout=20.0), server.output()
