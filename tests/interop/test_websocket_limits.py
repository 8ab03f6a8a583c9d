"""The WebSocket message limit: enforced by uvicorn itself under `velocipy run` (before the
message is buffered), by VelociPy after the fact elsewhere. Both answer 1009; the reason tells
who refused it."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.interop.ws_servers import ws_server_argv
from tests.support import executable, free_port, running

pytestmark = pytest.mark.interop

APP = """\
from velocipy import VelociPy, WebSocket

app = VelociPy(ws_max_message_size=64 * 1024)


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        await ws.send(await ws.receive())
"""
OURS = "message larger than the limit of 65536 bytes"


def close_after_oversized_message(port: int) -> tuple[int, str]:
    with connect(f"ws://127.0.0.1:{port}/ws", max_size=None, open_timeout=10) as ws:
        ws.send("small")
        assert ws.recv(timeout=10) == "small"
        ws.send(b"x" * (1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    received = closed.value.rcvd
    assert received is not None
    return received.code, received.reason


def test_velocipy_run_hands_the_limit_to_uvicorn(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(APP)
    port = free_port()
    argv = [executable("velocipy"), "run", "--asgi", "--no-reload", "--port", str(port)]
    with running(argv, port=port, cwd=tmp_path):
        code, reason = close_after_oversized_message(port)
    assert code == 1009
    assert OURS not in reason  # uvicorn refused it before VelociPy saw it


@pytest.mark.parametrize("kind", ["uvicorn", "granian-rsgi", "granian-asgi"])
def test_without_the_server_setting_velocipy_refuses_after_the_fact(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "limited.py").write_text(APP)
    port = free_port()
    with running(ws_server_argv(kind, "limited:app", port), port=port, cwd=tmp_path):
        code, reason = close_after_oversized_message(port)
    if kind == "granian-rsgi":
        assert code == 1005  # RSGI carries no close code (the connection is closed all the same)
    else:
        assert (code, reason) == (1009, OURS)
