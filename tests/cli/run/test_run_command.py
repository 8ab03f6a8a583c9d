"""`velocipy run` / `velocipy routes` as a user types them: discovery, settings, refusals."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli.run.devserver import environment_without_velocipy
from tests.cli.run.projects import ROUTES_APP, write_tree
from tests.support import executable, free_port, http_request, running, wait_until

SERVICE_APP = """\
from velocipy import VelociPy

service = VelociPy()


@service.get("/")
async def index() -> str:
    return "found me"
"""


def _velocipy(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("velocipy"), *args],
        cwd=cwd,
        env={**environment_without_velocipy(), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.interop
def test_discovery_and_settings_precedence_end_to_end(tmp_path: Path) -> None:
    pyproject_port, env_port = free_port(), free_port()
    write_tree(
        tmp_path,
        {
            "pyproject.toml": (
                '[project]\nname = "shop"\n\n[tool.velocipy]\n'
                f'interface = "rsgi"\nport = {pyproject_port}\nreload = false\n'
            ),
            "src/shop/__init__.py": "",
            "src/shop/api.py": SERVICE_APP,
        },
    )
    env = {**environment_without_velocipy(), "VELOCIPY_PORT": str(env_port)}
    argv = [executable("velocipy"), "run"]
    with running(argv, port=env_port, cwd=tmp_path, env=env) as server:
        assert wait_until(lambda: _answers(env_port, "found me"), timeout=20), server.output()
        chosen = "serving shop.api:service (the only VelociPy instance)"
        assert wait_until(lambda: chosen in server.output(), timeout=5), server.output()
        output = server.output()
    assert "found src/shop/api.py" in output
    assert "granian (RSGI)" in output  # interface from [tool.velocipy]
    assert f"http://127.0.0.1:{env_port}" in output  # VELOCIPY_PORT beats pyproject
    assert "reload off (1 worker)" in output  # reload = false from [tool.velocipy]


def _answers(port: int, text: str) -> bool:
    try:
        return http_request(f"http://127.0.0.1:{port}/", timeout=2).text == text
    except OSError:
        return False


def test_port_in_use_names_the_holder_and_exits_1(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.py": SERVICE_APP})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _velocipy("run", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert f"pid {os.getpid()}" in lines[0]  # this test process holds it
    assert "try --port" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_refusals_are_one_line(tmp_path: Path) -> None:
    nothing = _velocipy("run", cwd=tmp_path)
    assert nothing.returncode == 1
    assert "no app found" in nothing.stderr
    assert "looked for: main.py, app.py, api.py, app/main.py" in nothing.stderr

    write_tree(tmp_path, {"main.py": SERVICE_APP})
    workers = _velocipy("run", "--workers", "3", cwd=tmp_path)
    assert workers.returncode == 2
    assert "--reload runs a single worker" in workers.stderr
    assert "--no-reload" in workers.stderr

    (tmp_path / "broken.py").write_text("raise ValueError('not today')\n")
    without_reload = _velocipy("run", "broken.py", "--no-reload", "--port", "0", cwd=tmp_path)
    assert without_reload.returncode == 1  # nothing will fix it: report and leave
    assert "broken.py, line 1: ValueError: not today" in without_reload.stderr

    uvicorn_rsgi = _velocipy("run", "--server", "uvicorn", "--rsgi", cwd=tmp_path)
    assert uvicorn_rsgi.returncode == 2
    assert "uvicorn cannot serve the RSGI interface" in uvicorn_rsgi.stderr
    contradiction = _velocipy("run", "--interface", "asgi", "--rsgi", cwd=tmp_path)
    assert contradiction.returncode == 2
    assert "--rsgi contradicts --interface asgi" in contradiction.stderr

    bad_env = _velocipy("run", cwd=tmp_path, env={"VELOCIPY_PORT": "eighty"})
    assert bad_env.returncode == 2
    assert "VELOCIPY_PORT must be a whole number" in bad_env.stderr


def test_routes_lists_http_and_websocket_routes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app.py": ROUTES_APP})
    result = _velocipy("routes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = result.stdout
    assert "Routes of app:app" in table
    rows = {line.split("│")[3].strip(): line for line in table.splitlines() if line.count("│") >= 6}
    assert set(rows) >= {"/", "/api/items/{item_id:int}", "/chat"}
    assert "GET" in rows["/"]
    assert "HEAD" in rows["/"]
    assert "app.home" in rows["/"]
    assert "POST" in rows["/api/items/{item_id:int}"]
    assert "app.update_item" in rows["/api/items/{item_id:int}"]
    assert "WebSocket" in rows["/chat"]
    assert "app.chat_room" in rows["/chat"]

    broken = tmp_path / "broken"
    write_tree(broken, {"main.py": "import nowhere_to_be_found\n"})
    failed = _velocipy("routes", cwd=broken)
    assert failed.returncode == 1
    assert "main.py, line 1: ModuleNotFoundError" in failed.stderr
    assert "Traceback" not in failed.stderr
