"""Server-Timing on real uvicorn, granian RSGI and granian ASGI processes, and in Chromium.

Each phase is proven by where a known wait lands: a dependency's sleep must be in ``params``
(not ``handler``), the handler's sleep in ``handler`` (not ``params``), a plain handler's sleep
in its thread in ``handler``. Durations are only checked against those waits, from below.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.interop.apps.timed_app import DEPENDENCY_SECONDS, HANDLER_SECONDS, THREAD_SECONDS
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    running,
    server_argv,
)

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.timed_app:app"
PHASES = ["route", "params", "handler", "encode", "total"]
SLACK_MS = 5  # a sleep may end up to a clock tick early


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        started = {}
        for kind in SERVERS:
            port = free_port()
            argv = server_argv(kind, TARGET, port)
            started[kind] = stack.enter_context(running(argv, port=port, cwd=REPO_ROOT))
        yield started
        for process in started.values():
            assert "Traceback" not in process.output(), process.output()


def phases(header: str) -> dict[str, float]:
    found = {}
    for part in header.split(", "):
        name = part.split(";")[0]
        duration = re.search(r";dur=([\d.]+)", part)
        assert duration, header
        found[name] = float(duration.group(1))
    return found


@pytest.mark.parametrize("kind", SERVERS)
def test_each_wait_lands_in_its_phase(kind: str, servers: dict[str, ServerProcess]) -> None:
    with httpx.Client(base_url=servers[kind].url, timeout=10) as client:
        ordered = client.post("/orders", json={"item": "pen", "quantity": 2})
        reported = client.get("/report", params={"rows": 4})
        invalid = client.post("/orders", json={"item": "pen"})
        missing = client.get("/missing")
    assert ordered.json() == {"item": "pen", "left": 3}
    order = phases(ordered.headers["server-timing"])
    assert list(order) == PHASES, ordered.headers["server-timing"]
    assert 'desc="parameters and validation"' in ordered.headers["server-timing"]
    assert order["params"] >= DEPENDENCY_SECONDS * 1000 - SLACK_MS  # the dependency's sleep
    assert order["handler"] >= HANDLER_SECONDS * 1000 - SLACK_MS  # the handler's own
    assert order["total"] >= order["route"] + order["params"] + order["handler"]

    assert reported.json() == {"rows": 4}  # registered after the instrument, plain def
    report = phases(reported.headers["server-timing"])
    assert list(report) == PHASES
    assert report["handler"] >= THREAD_SECONDS * 1000 - SLACK_MS

    # a 422 ran no handler: the dependency's time is in the total, not in a handler phase
    assert invalid.status_code == 422
    assert list(phases(invalid.headers["server-timing"])) == ["route", "total"]
    assert phases(invalid.headers["server-timing"])["total"] >= DEPENDENCY_SECONDS * 1000 - SLACK_MS
    assert missing.status_code == 404
    assert list(phases(missing.headers["server-timing"])) == ["total"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uvicorn", "granian-rsgi"])
def test_chromium_reads_the_phases(kind: str, servers: dict[str, ServerProcess]) -> None:
    """What dev tools show: the navigation's ``serverTiming`` entries, parsed by the browser."""
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(servers[kind].url + "/page", timeout=10_000)
            entries = page.evaluate(
                """() => performance.getEntriesByType("navigation")[0].serverTiming.map(
                     (t) => ({name: t.name, duration: t.duration, description: t.description}))"""
            )
        finally:
            browser.close()
    assert [entry["name"] for entry in entries] == PHASES
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name["params"]["description"] == "parameters and validation"
    assert by_name["handler"]["duration"] >= HANDLER_SECONDS * 1000 - SLACK_MS
