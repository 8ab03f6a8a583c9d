"""A failing lifespan startup stops uvicorn, granian RSGI and granian ASGI, with the error shown."""

from __future__ import annotations

import pytest

from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, server_argv

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("kind", SERVERS)
def test_failing_startup_stops_the_server_and_shows_the_error(kind: str) -> None:
    port = free_port()
    server = ServerProcess(
        server_argv(kind, "tests.interop.apps.failing_startup:app", port), port, REPO_ROOT
    ).start()
    try:
        assert server.process is not None
        exit_code = server.process.wait(timeout=30)
    finally:
        server.stop()
    assert exit_code != 0
    log = server.output()
    assert "database unreachable: startup refused" in log
    assert "Application startup failed" in log
