"""VelociPy's pytest plugin, as a user's project meets it: a project in a temporary folder whose
tests use ``client``, ``async_client`` and ``live_server``, run by pytest in a subprocess (the
plugin loads through the ``pytest11`` entry point of the installed package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MAIN = """
from velocipy import VelociPy, WebSocket

app = VelociPy(on_startup=[lambda: setattr(app.state, "ready", "yes")])


@app.get("/")
async def home() -> dict[str, str]:
    return {"ready": app.state.ready}


@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text((await ws.receive_text()).upper())
"""

TESTS = """
import asyncio
import json
import urllib.request

from websockets.sync.client import connect


def test_client(client, velocipy_interface):
    assert client.get("/").json() == {"ready": "yes"}
    with client.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "HI"
    print("interface", velocipy_interface)


def test_async_client(async_client):
    async def talk():
        response = await async_client.get("/")
        async with async_client.websocket_connect("/echo") as ws:
            await ws.send_text("yo")
            return response.json(), await ws.receive_text()

    assert asyncio.run(talk()) == ({"ready": "yes"}, "YO")


def test_live_server(live_server, velocipy_interface):
    with urllib.request.urlopen(live_server.url + "/", timeout=10) as response:
        assert json.load(response) == {"ready": "yes"}
    with connect(live_server.ws_url + "/echo", open_timeout=10) as ws:
        ws.send("live")
        assert ws.recv(10) == "LIVE"
    server = "uvicorn" if velocipy_interface == "asgi" else "granian"
    assert live_server.argv()[2] == server
"""


def run_pytest(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_project(tmp_path: Path, ini: str) -> Path:
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / "test_app.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    return tmp_path


@pytest.mark.interop
def test_the_fixtures_on_asgi_and_rsgi_and_real_servers(tmp_path: Path) -> None:
    done = run_pytest(make_project(tmp_path, "velocipy_app = main:app"))
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("test_client", "test_async_client", "test_live_server"):
        for interface in ("asgi", "rsgi"):
            assert f"test_app.py::{name}[{interface}] PASSED" in done.stdout
    assert "6 passed" in done.stdout


def test_an_app_fixture_replaces_the_setting(tmp_path: Path) -> None:
    project = make_project(tmp_path, "")
    (project / "conftest.py").write_text(
        "import pytest\nimport main\n\n\n@pytest.fixture\ndef app():\n    return main.app\n"
    )
    done = run_pytest(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def test_without_an_app_the_fixtures_say_how_to_name_it(tmp_path: Path) -> None:
    done = run_pytest(make_project(tmp_path, ""))
    assert done.returncode != 0
    assert "define an `app` fixture in conftest.py, or set velocipy_app" in done.stdout


def test_a_malformed_setting_is_named(tmp_path: Path) -> None:
    done = run_pytest(make_project(tmp_path, "velocipy_app = main"))
    assert done.returncode != 0
    assert "velocipy_app = 'main': write it as 'module:attribute'" in done.stdout
