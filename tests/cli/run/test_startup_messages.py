"""What `velocipy run` says at start-up: a route mistake in one line, a handler that blocks the
event loop (development only), a Channels app whose Redis does not answer."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.channels.redis_server import RedisServer
from tests.support import ServerProcess, executable, free_port, http_request, wait_until

pytestmark = pytest.mark.interop

BLOCKING_APP = """\
import asyncio
import time

from velocipy import VelociPy

app = VelociPy()


@app.get("/slow")
async def slow_report() -> dict[str, bool]:
    time.sleep(0.3)  # blocks the event loop
    return {"done": True}


@app.get("/waits")
async def polite_wait() -> dict[str, bool]:
    await asyncio.sleep(0.3)  # waits without blocking
    return {"done": True}
"""

WARNING = "kept the event loop busy"


def run_velocipy(root: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    port = free_port()
    argv = [executable("velocipy"), "run", "--port", str(port), *args]
    return ServerProcess(argv, port, root, env={"COLUMNS": "200", **(env or {})}).start()


def wait_for_output(server: ServerProcess, text: str, timeout: float = 20.0) -> str:
    assert wait_until(lambda: text in server.output(), timeout), server.output()
    return server.output()


def test_run_debug_names_a_handler_that_blocks_the_loop(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(BLOCKING_APP)
    server = run_velocipy(tmp_path, "--debug", "--no-reload")
    try:
        wait_for_output(server, "ready")
        for _ in range(2):  # warned once per handler, not per request
            assert http_request(f"{server.url}/slow", timeout=10).status == 200
        assert http_request(f"{server.url}/waits", timeout=10).status == 200
        output = wait_for_output(server, WARNING)
    finally:
        server.stop()
    # the banner names the app it will load and says debug is on
    assert "  app    main:app, found main.py (no APP given)\n" in output
    assert "  debug  on: VELOCIPY_DEBUG=1" in output
    assert "(or its only VelociPy instance)" not in output
    lines = [line for line in output.splitlines() if WARNING in line]
    assert len(lines) == 1, output
    assert lines[0].startswith("handler slow_report (main.py:9) kept the event loop busy for")
    assert "Make it a plain `def` handler" in lines[0]
    assert "asyncio.to_thread" in lines[0]
    assert "polite_wait" not in output


def test_reload_mode_watches_the_loop_too(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(BLOCKING_APP)
    server = run_velocipy(tmp_path)  # --reload is the default
    try:
        wait_for_output(server, "ready")
        assert http_request(f"{server.url}/slow", timeout=10).status == 200
        wait_for_output(server, "handler slow_report (main.py:9) " + WARNING)
    finally:
        server.stop()


def test_without_reload_or_debug_nothing_is_watched(tmp_path: Path) -> None:
    """Production-like: `--no-reload` without `--debug` wraps nothing and logs nothing."""
    (tmp_path / "main.py").write_text(BLOCKING_APP)
    server = run_velocipy(tmp_path, "--no-reload")
    try:
        wait_for_output(server, "ready")
        for _ in range(2):
            assert http_request(f"{server.url}/slow", timeout=10).status == 200
        # the access log line of the second request is written after the handler returned
        assert wait_until(lambda: server.output().count("GET /slow") == 2, 10), server.output()
    finally:
        server.stop()
    assert WARNING not in server.output()


def test_a_route_mistake_stops_run_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        textwrap.dedent(
            """\
            from velocipy import VelociPy

            app = VelociPy()


            @app.post("/items", status_cod=201)
            async def create() -> dict[str, bool]:
                return {"created": True}
            """
        )
    )
    result = subprocess.run(
        [executable("velocipy"), "run", "--no-reload", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[0] == (
        "error: the app failed to import: main.py:6: create: unknown route option "
        "status_cod=201 (did you mean 'status_code'?); a route takes: "
        + result.stderr.split("a route takes: ", 1)[1].splitlines()[0]
    )
    assert "a route takes: " in result.stderr
    assert "dependencies, " in result.stderr.split("a route takes: ", 1)[1]
    assert "Traceback" not in result.stderr


CHANNELS_APP = """\
import os

from velocipy import VelociPy, WebSocket
from velocipy.channels import Channels

app = VelociPy()
channels = Channels(os.environ["REDIS_URL"], app=app)


@app.get("/")
async def home() -> dict[str, bool]:
    return {"published": await channels.publish("news", "hello")}
"""


def test_a_channels_app_whose_redis_is_unreachable_says_so_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(CHANNELS_APP)
    port = free_port()  # nothing listens here (yet)
    url = f"redis://127.0.0.1:{port}/0"
    server = run_velocipy(tmp_path, "--no-reload", env={"REDIS_URL": url})
    redis = RedisServer(port)
    try:
        output = wait_for_output(server, "ready")
        before_ready = output.split("ready", 1)[0]
        assert f"channels: Redis at {url} is unreachable at start-up" in before_ready
        assert "retrying in the background" in before_ready
        assert json.loads(http_request(server.url, timeout=10).text) == {"published": False}
        redis.start()  # the backend connects in the background
        assert wait_until(
            lambda: json.loads(http_request(server.url, timeout=10).text) == {"published": True}, 30
        ), server.output()
    finally:
        server.stop()
        redis.kill()


def test_a_reachable_redis_says_nothing_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(CHANNELS_APP)
    redis = RedisServer().start()
    server = run_velocipy(tmp_path, "--no-reload", env={"REDIS_URL": redis.url})
    try:
        wait_for_output(server, "ready")
        assert json.loads(http_request(server.url, timeout=10).text) == {"published": True}
    finally:
        server.stop()
        redis.kill()
    assert "unreachable" not in server.output()
