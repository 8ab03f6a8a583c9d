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
    assert result.stdout.splitlines() == [  # a pipe: one route a line, tab-separated fields
        "GET,HEAD\t/\tapp.home\thome\t-",
        "WS\t/chat\tapp.chat_room\tchat_room\t-",
        "POST\t/api/items/{item_id:int}\tapp.update_item\tupdate_item\t"
        "Update an Item by item_id (one at a time).",  # no docstring markup
    ]

    broken = tmp_path / "broken"
    write_tree(broken, {"main.py": "import nowhere_to_be_found\n"})
    failed = _velocipy("routes", cwd=broken)
    assert failed.returncode == 1
    assert "main.py, line 1: ModuleNotFoundError" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_bracketed_text_survives_in_messages(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.py": SERVICE_APP})
    workers = _velocipy("run", "--workers", "2", cwd=tmp_path)
    assert "(settings from [tool.velocipy] or VELOCIPY_* count too)" in workers.stderr

    (tmp_path / "pyproject.toml").write_text("[tool.velocipy]\nprot = 8001\n")
    typo = _velocipy("run", cwd=tmp_path)
    assert typo.returncode == 2
    (line,) = typo.stderr.splitlines()
    assert line.startswith(f"error: unknown key 'prot' in [tool.velocipy] of {tmp_path}")
    assert "did you mean 'port'?" in line


def test_an_unknown_key_far_from_any_gets_no_guess(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.velocipy]\nzzz = 1\n")
    result = _velocipy("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean" not in result.stderr
    assert "(known keys: access_log, app, body_timeout, debug," in result.stderr


@pytest.mark.interop
def test_the_banner_names_tool_velocipy_as_the_source_of_the_app(tmp_path: Path) -> None:
    port = free_port()
    write_tree(
        tmp_path,
        {
            "pyproject.toml": f'[tool.velocipy]\napp = "service_mod:service"\nport = {port}\n',
            "service_mod.py": SERVICE_APP,
        },
    )
    argv = [executable("velocipy"), "run", "--no-reload"]
    env = {**environment_without_velocipy(), "COLUMNS": "200"}
    with running(argv, port=port, cwd=tmp_path, env=env) as server:
        assert wait_until(lambda: "ready in" in server.output(), timeout=20), server.output()
        output = server.output()
    source = "from app in [tool.velocipy] of pyproject.toml"
    assert f"app    service_mod:service, {source}" in output
    assert f"serving service_mod:service ({source})" in output
    assert "given" not in output


def test_failures_and_file_names_with_brackets_print_as_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from velocipy_cli.commands.run import TerminalEvents
    from velocipy_cli.dev.reports import AppFailure

    events = TerminalEvents(Path("/project"))
    events.app_failed(AppFailure("import", "main.py, line 1: KeyError: '[tool.velocipy]'"))
    events.reloaded([Path("/project/routes/[id].py")], 0.1)
    captured = capsys.readouterr()
    assert "KeyError: '[tool.velocipy]'" in captured.err
    assert "after changes to routes/[id].py" in captured.out


LONG_HANDLER = "update_item_with_a_handler_name_long_enough_to_overflow_an_80_column_table"


@pytest.mark.parametrize("columns", [80, 200])
def test_routes_in_a_terminal_never_cut_a_name(tmp_path: Path, columns: int) -> None:
    import pexpect

    write_tree(tmp_path, {"app.py": ROUTES_APP.replace("update_item", LONG_HANDLER)})
    child = pexpect.spawn(
        executable("velocipy"), ["routes"], cwd=str(tmp_path), dimensions=(50, columns),
        env={**environment_without_velocipy(), "NO_COLOR": "1", "TERM": "xterm"},
        encoding="utf-8", timeout=30,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    lines = child.before.replace("\r\n", "\n").splitlines()
    assert "Routes of app:app" in lines[0]
    assert all(len(line.rstrip()) <= columns for line in lines if LONG_HANDLER not in line)
    assert any(f"app.{LONG_HANDLER}" in line for line in lines)  # whole, on one line
    assert any("/api/items/{item_id:int}" in line for line in lines)
    assert "3 routes" in lines[-1]


@pytest.mark.interop
@pytest.mark.parametrize("interface", ["--rsgi", "--asgi"])
def test_rsgi_runs_warn_that_streams_have_no_backpressure(tmp_path: Path, interface: str) -> None:
    """granian's RSGI streams buffer without bound for a client that stops reading
    (tests/interop/test_slow_reader_memory.py measures it): `velocipy run` says so once."""
    from velocipy_cli.dev.choice import RSGI_STREAM_WARNING

    port = free_port()
    write_tree(tmp_path, {"service_mod.py": SERVICE_APP})
    argv = [executable("velocipy"), "run", "service_mod:service", interface, "--no-reload"]
    argv += ["--port", str(port)]
    env = {**environment_without_velocipy(), "COLUMNS": "400"}
    with running(argv, port=port, cwd=tmp_path, env=env) as server:
        assert wait_until(lambda: "ready in" in server.output(), timeout=20), server.output()
        output = server.output()
    warned = output.count(f"warning: {RSGI_STREAM_WARNING}")
    assert warned == (1 if interface == "--rsgi" else 0), output
