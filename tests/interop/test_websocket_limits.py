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


LIMIT = 64 * 1024


def answers_at_below_and_above(port: int) -> list[object]:
    """Echo of a message one byte below and at the limit, then the close code of one byte over."""
    seen: list[object] = []
    with connect(f"ws://127.0.0.1:{port}/ws", max_size=None, open_timeout=10) as ws:
        for size in (LIMIT - 1, LIMIT):
            ws.send(b"x" * size)
            seen.append(len(ws.recv(timeout=10)))
        ws.send("y" * (LIMIT + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    received = closed.value.rcvd
    seen.append(None if received is None else received.code)
    return seen


@pytest.mark.parametrize("kind", ["velocipy-run", "uvicorn", "granian-rsgi", "granian-asgi"])
def test_the_limit_at_below_and_above_on_every_server(kind: str, tmp_path: Path) -> None:
    (tmp_path / "limited.py").write_text(APP)
    port = free_port()
    if kind == "velocipy-run":
        (tmp_path / "main.py").write_text(APP)
        argv = [executable("velocipy"), "run", "--asgi", "--no-reload", "--port", str(port)]
    else:
        argv = ws_server_argv(kind, "limited:app", port)
    with running(argv, port=port, cwd=tmp_path):
        seen = answers_at_below_and_above(port)
    over = 1005 if kind == "granian-rsgi" else 1009  # RSGI carries no close code
    assert seen == [LIMIT - 1, LIMIT, over]
