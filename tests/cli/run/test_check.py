"""`velocipy run --check`: what each server supports, probed live, next to the app's routes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import executable

pytestmark = pytest.mark.interop

APP = """\
import msgspec

from velocipy import VelociPy, WebSocket

app = VelociPy(max_body_size=5000)


class Move(msgspec.Struct):
    x: int


@app.websocket("/play", receives=Move)
async def play(websocket: WebSocket) -> None:
    await websocket.accept()


@app.websocket("/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
"""

# What each server did when this was written (uvicorn 0.3x, granian 2.8): the probe is live, so
# a server release that changes any of these fails here and the docs table must follow.
EXPECTED = {
    "--asgi": {
        "subprotocols": True,
        "close codes and reasons": True,
        "per-message deflate": True,
        "early 413": True,
        "stream backpressure": True,
    },
    "--rsgi": {
        "subprotocols": False,
        "close codes and reasons": False,
        "per-message deflate": False,
        "early 413": True,
        "stream backpressure": False,
    },
    "--server granian --interface asgi": {
        "subprotocols": True,
        "close codes and reasons": True,
        "per-message deflate": False,
        "early 413": True,
        "stream backpressure": True,
    },
}


def run_check(project: Path, interface: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("velocipy"), "run", *interface.split(), "--check"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "250"},
        check=False,
    )


@pytest.mark.parametrize("interface", list(EXPECTED))
def test_check_reports_each_feature_and_the_routes_relying_on_it(
    tmp_path: Path, interface: str
) -> None:
    (tmp_path / "main.py").write_text(APP)
    result = run_check(tmp_path, interface)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for feature, supported in EXPECTED[interface].items():
        line = next(line for line in lines if f" {feature}: " in line)
        assert line.strip().startswith("yes" if supported else "no"), line
    assert (
        "your app: every WebSocket route: /play, /chat; 1007 with a reason for invalid "
        "messages on /play" in result.stdout
    )
    assert "every route that reads a body (max_body_size 5000 bytes)" in result.stdout


def test_check_with_a_broken_app_still_probes_the_server(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import no_such_module_here\n")
    result = run_check(tmp_path, "--asgi")
    assert result.returncode == 0, result.stderr
    assert "the app could not be imported (ModuleNotFoundError" in result.stderr
    assert "yes subprotocols: " in result.stdout
    assert "your app:" not in result.stdout
    assert "Traceback" not in result.stderr
