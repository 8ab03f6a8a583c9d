"""The chat-redis template, generated and installed in a fresh virtualenv: its own tests pass
against a real redis-server, and two workers started as its README says share one room."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.channels.redis_server import redis_running
from tests.cli.new.venvs import GeneratedProject, Virtualenv, stale_direct_dependencies
from tests.support import free_port, running

pytestmark = [pytest.mark.slow, pytest.mark.interop]

WAIT = 20.0


def test_the_project_passes_its_own_tests_against_a_real_redis(
    generated_project: Callable[[str], GeneratedProject], wheel_venv: Virtualenv
) -> None:
    """On the newest releases of its dependencies, as a user generating it today gets them
    (redis-py 8.2 once broke this project through a warning its tests turn into an error)."""
    project = generated_project("chat-redis")
    assert stale_direct_dependencies(wheel_venv, [project.name, "velocipy"]) == []
    done = wheel_venv.run(
        [wheel_venv.script("pytest"), "-v", "-p", "no:cacheprovider"], cwd=project.path
    )
    assert "test_two_workers_share_the_room_through_redis PASSED" in done.stdout
    assert "[asgi] PASSED" in done.stdout
    assert "[rsgi] PASSED" in done.stdout
    assert "failed" not in done.stdout
    assert "skipped" not in done.stdout


def _next_message(ws: ClientConnection) -> dict[str, Any]:
    while True:
        event = json.loads(ws.recv(timeout=WAIT))
        if event["type"] == "message":
            return dict(event)


def test_two_workers_started_as_the_readme_says_share_the_room(
    generated_project: Callable[[str], GeneratedProject], wheel_venv: Virtualenv
) -> None:
    project = generated_project("chat-redis")
    readme = (project.path / "README.md").read_text()
    # loopback only: a Redis without a password must not listen on every interface
    assert "redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no" in readme
    assert "docker run -p 127.0.0.1:6379:6379" in readme
    assert "\nvelocipy run --workers 2 --no-reload\n" in readme

    with redis_running() as redis:
        port = free_port()
        argv = [wheel_venv.script("velocipy"), "run", "--workers", "2", "--no-reload"]
        argv += ["--port", str(port)]
        env = {**wheel_venv.env(), "REDIS_URL": redis.url}
        with running(argv, port=port, cwd=project.path, env=env) as served, ExitStack() as stack:
            by_worker: dict[int, ClientConnection] = {}
            for attempt in range(200):  # new connections until two workers have one each
                url = f"{served.ws_url}/ws?name=user{attempt}"
                ws = stack.enter_context(connect(url, open_timeout=WAIT))
                welcome = json.loads(ws.recv(timeout=WAIT))
                assert welcome["type"] == "welcome"
                if welcome["worker"] in by_worker:
                    ws.close()
                    continue
                by_worker[welcome["worker"]] = ws
                if len(by_worker) == 2:
                    break
            assert len(by_worker) == 2, served.output()
            first, second = by_worker.values()
            first.send("hello from one worker")
            assert _next_message(second)["text"] == "hello from one worker"
            second.send("and back from the other")
            assert _next_message(first)["text"] == "hello from one worker"  # its own, echoed
            assert _next_message(first)["text"] == "and back from the other"
            assert "Traceback" not in served.output()
