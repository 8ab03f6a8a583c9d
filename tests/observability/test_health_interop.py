"""Readiness follows a real redis-server: up, paused (a timeout), gone, and back."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.channels.redis_server import redis_running
from tests.support import REPO_ROOT, SERVERS, free_port, running, server_argv

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.health_app:app"


@pytest.mark.parametrize("kind", SERVERS)
def test_readiness_follows_redis(kind: str) -> None:
    with redis_running() as redis:
        port = free_port()
        env = {"REDIS_URL": redis.url}
        argv = server_argv(kind, TARGET, port)
        with running(argv, port=port, cwd=REPO_ROOT, env=env) as server:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                assert client.get("/health").json() == {"status": "ok"}
                ready = client.get("/ready")
                assert ready.status_code == 200
                assert ready.json()["status"] == "ready"
                assert ready.json()["checks"]["redis"]["status"] == "ok"

                assert redis.process is not None
                os.killpg(redis.process.pid, signal.SIGSTOP)  # alive, but no answer
                try:
                    paused = client.get("/ready")
                finally:
                    os.killpg(redis.process.pid, signal.SIGCONT)
                assert paused.status_code == 503
                assert paused.json() == {
                    "status": "unavailable",
                    "checks": {"redis": {"status": "timeout", "error": "no answer within 0.5s"}},
                }

                redis.kill()
                gone = client.get("/ready")
                assert gone.status_code == 503
                failure = gone.json()["checks"]["redis"]
                assert failure["status"] == "failed"
                assert failure["error"].startswith("ConnectionError: ")
                assert client.get("/health").status_code == 200  # the process still serves

                redis.start()
                assert client.get("/ready").status_code == 200
            assert "Traceback" not in server.output()
