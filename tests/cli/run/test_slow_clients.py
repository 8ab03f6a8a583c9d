"""`velocipy run --no-reload` bounds slow clients: through the installed `velocipy` command.

A client that dribbles its request headers (a byte every 0.2 s) is cut off after
``--header-timeout`` (3 s here) on every server (uvicorn: our 408; granian: its
header_read_timeout); one that dribbles its body is cut off after ``--body-timeout`` on uvicorn
(granian has no body setting: docs/security.md says so). Headers sent within the limit are
served; with ``--reload`` the servers keep their own defaults.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.cli.run.devserver import DevProject
from tests.support import wait_until

pytestmark = pytest.mark.interop

GRANIAN_ASGI = "--server granian --interface asgi"
SLOW_APP = """\
from velocipy import Request, VelociPy, WebSocket

app = VelociPy()


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@app.get("/")
async def home() -> str:
    return "served"


@app.post("/upload")
async def upload(request: Request) -> dict[str, int]:
    return {"received": len(await request.body())}
"""
HEADERS = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: a-slow-client/1.0\r\n\r\n"
TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 50\r\nconnection: close\r\n\r\n"
    b"The request headers took too long: send them whole"
)


def dribble(port: int, data: bytes, pause: float) -> tuple[int, bytes]:
    """Send ``data`` a byte at a time; (bytes sent before the server hung up, what it said)."""
    sent = 0
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for byte in data:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            sock.settimeout(15)
            while chunk := sock.recv(65536):
                received += chunk
    return sent, received


def started(project: DevProject) -> None:
    assert wait_until(lambda: (project.get() or None) is not None, 60), project.output()


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi", GRANIAN_ASGI])
def test_slow_headers_are_cut_off_at_the_header_timeout(tmp_path: Path, interface: str) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(SLOW_APP)
    with project.running("--no-reload", "--header-timeout", "3"):
        started(project)
        # below the limit: the whole request within about a second is served
        sent, answer = dribble(project.port, HEADERS, 0.01)
        assert sent == len(HEADERS)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert answer.endswith(b"served")
        # above it: 0.2 s a byte would take 13 s for these headers (the bound is 3 s)
        sent, answer = dribble(project.port, HEADERS, 0.2)
        assert sent < len(HEADERS)
        if interface == "--asgi":
            assert answer == TIMED_OUT
        else:  # granian hangs up without an answer
            assert answer == b""
        assert project.get().status == 200  # type: ignore[union-attr]


def test_a_slow_body_is_cut_off_on_uvicorn(tmp_path: Path) -> None:
    project = DevProject.create(tmp_path, "--asgi")
    (project.root / "main.py").write_text(SLOW_APP)
    head = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    with project.running("--no-reload", "--body-timeout", "2"):
        started(project)
        with socket.create_connection(("127.0.0.1", project.port), timeout=15) as sock:
            sock.sendall(head)
            sent, answer = 0, b""
            try:
                for _ in range(100):
                    sock.sendall(b"x")
                    sent += 1
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                answer = sock.recv(65536)
        assert sent < 100
        assert answer == b""  # the handler saw the client leave; nothing was answered
        # a body at full speed is not affected
        with socket.create_connection(("127.0.0.1", project.port), timeout=15) as sock:
            sock.sendall(head + b"x" * 100)
            answer = b""
            while not answer.endswith(b"}") and (chunk := sock.recv(65536)):
                answer += chunk  # the head and the body may come in two segments
            assert answer.endswith(b'{"received":100}')
        assert "Traceback" not in project.output()


def test_with_reload_uvicorn_keeps_its_own_defaults(tmp_path: Path) -> None:
    """uvicorn alone never cuts slow headers: 4.8 s (above a 2 s bound) and still served."""
    project = DevProject.create(tmp_path, "--asgi")
    (project.root / "main.py").write_text(SLOW_APP)
    with project.running("--header-timeout", "2"):
        started(project)
        sent, answer = dribble(project.port, HEADERS, 4.8 / len(HEADERS))
        assert sent == len(HEADERS)
        assert answer.startswith(b"HTTP/1.1 200"), answer


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi", GRANIAN_ASGI])
def test_a_websocket_outlives_both_timeouts(tmp_path: Path, interface: str) -> None:
    """The bounds are for requests: an upgraded connection idle past them stays open."""
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(SLOW_APP)
    with project.running("--no-reload", "--header-timeout", "1", "--body-timeout", "1"):
        started(project)
        with connect(f"ws://127.0.0.1:{project.port}/echo", open_timeout=15) as websocket:
            websocket.send("before")
            assert websocket.recv(timeout=15) == "before"
            time.sleep(2.5)  # idle past both bounds (and past the 1 s + 8 KiB/s body allowance)
            websocket.send("after")
            assert websocket.recv(timeout=15) == "after"
