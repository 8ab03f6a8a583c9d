"""`velocipy run` end to end: the installed command, a temp project, real requests on loopback.

Each test is one developer session on every server: uvicorn (--asgi), granian RSGI (--rsgi) and
granian ASGI (--server granian --interface asgi).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.cli.run.devserver import DevProject, all_gone, descendants, quiet
from tests.cli.run.projects import STARTUP_FAILS
from tests.support import port_is_open, wait_until
from velocipy_cli.dev.debounce import BURST_QUIET_SECONDS

pytestmark = [pytest.mark.interop, pytest.mark.slow]

GRANIAN_ASGI = "--server granian --interface asgi"
INTERFACES = ["--asgi", "--rsgi", GRANIAN_ASGI]
STOP_SIGNALS = {"--asgi": signal.SIGTERM, "--rsgi": signal.SIGINT, GRANIAN_ASGI: signal.SIGTERM}
DEBOUNCE_QUIET = BURST_QUIET_SECONDS + 0.2  # longer than a burst's quiet window: it is over


@pytest.mark.parametrize("interface", INTERFACES)
def test_edit_burst_break_fix_ignore_and_stop(tmp_path: Path, interface: str) -> None:
    project = DevProject.create(tmp_path, interface)
    with project.running() as server:
        project.wait_for(200, "version 1")
        workers = descendants(project.supervisor_pid())
        assert workers, "the supervisor runs the server in a child process"
        assert project.imports() == 1

        # An open WebSocket stays open through the reload (the dev proxy resumes it).
        with connect(f"{server.ws_url}/ws", open_timeout=5, close_timeout=2) as ws:
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
            project.write_app("version 2")
            project.wait_for(200, "version 2")
            ws.send("after the reload")
            assert ws.recv(timeout=10) == "after the reload"
        assert project.imports() == 2

        # 20 saves in about a second: at most two restarts, and the last save wins.
        before = project.imports()
        for number in range(20):
            project.write_app(f"burst {number}")
            quiet(0.05)
        project.wait_for(200, "burst 19")
        quiet(DEBOUNCE_QUIET)
        assert project.imports() - before <= 2, project.output()

        # A syntax error: the supervisor stays up and answers a 503 naming the error.
        (project.root / "main.py").write_text("def broken(:\n    pass\n")
        broken = project.wait_for(503, "SyntaxError", timeout=10)
        assert "main.py, line 1" in broken.text
        assert server.alive()
        assert project.output().count("SyntaxError: invalid syntax") >= 1
        project.write_app("version 3")
        project.wait_for(200, "version 3")

        # Files that never restart: virtualenvs (with or without a dot), caches, the app's logs.
        before = project.imports()
        venv = project.root / "venv"
        (venv / "lib" / "site-packages").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (venv / "lib" / "site-packages" / "thing.py").write_text("x = 1\n")
        (project.root / ".venv" / "lib").mkdir(parents=True)
        (project.root / ".venv" / "lib" / "other.py").write_text("y = 2\n")
        (project.root / "__pycache__" / "main.cpython-311.pyc").parent.mkdir(exist_ok=True)
        (project.root / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
        logged = project.get("/write-log")
        assert logged is not None
        assert logged.text == "logged"
        assert (project.root / "app.log").exists()
        quiet(DEBOUNCE_QUIET)
        project.write_app("version 4")  # a real change still restarts, exactly once
        project.wait_for(200, "version 4")
        quiet(DEBOUNCE_QUIET)
        assert project.imports() == before + 1, project.output()

        # The supervisor never imported the app: only its children did.
        assert project.supervisor_pid() not in project.importer_pids()

        # SIGTERM / Ctrl+C: lifespan shutdown runs, every process exits, the port is free, exit 0.
        workers = descendants(project.supervisor_pid())
        server.signal(STOP_SIGNALS[interface])
        assert server.process is not None
        assert server.process.wait(timeout=8) == 0
        assert all_gone(workers, timeout=5), workers
        assert not port_is_open(project.port)
        assert (project.state / "shutdown.txt").read_text() == "lifespan shutdown ran"
    output = project.output()
    assert output.count("reloaded in") >= 4
    assert "Traceback" not in output.split("SyntaxError")[0]  # nothing failed before the break


@pytest.mark.parametrize("interface", INTERFACES)
def test_broken_at_start_then_startup_failure_then_fixed(tmp_path: Path, interface: str) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text("import json\nimport no_such_module_here\n")
    with project.running() as server:
        broken = project.wait_for(503, "ModuleNotFoundError", timeout=20)
        assert "main.py, line 2" in broken.text
        assert "no_such_module_here" in broken.text
        with pytest.raises(InvalidStatus) as refused:  # WebSocket upgrades are refused, not hung
            connect(f"{server.ws_url}/ws", open_timeout=5).close()
        assert refused.value.response.status_code == 503

        project.write_app("never served", startup=STARTUP_FAILS)
        failed = project.wait_for(503, "startup exploded", timeout=10)
        assert "RuntimeError" in failed.text
        assert "main.py, line" in failed.text
        assert server.alive()

        # A child that dies at startup (think OOM killer) is reported too, and waited out.
        (project.root / "main.py").write_text(
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
        )
        project.wait_for(503, "killed by signal 9", timeout=10)

        project.write_app("fixed")
        project.wait_for(200, "fixed")
        output = project.output()
        assert output.count("main.py, line 2: ModuleNotFoundError") == 1
        assert "the app failed to start" in output

        # The supervisor is killed outright: its child notices and exits within a few seconds.
        workers = descendants(project.supervisor_pid())
        assert workers
        os.kill(project.supervisor_pid(), signal.SIGKILL)
        assert all_gone(workers, timeout=6), workers
        assert wait_until(lambda: not port_is_open(project.port), timeout=5)
