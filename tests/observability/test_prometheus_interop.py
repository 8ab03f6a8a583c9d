"""/metrics on real servers, read with prometheus_client's own parser: the counts are the
requests made, with one worker on each server and summed over two workers (multiprocess mode).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.support import REPO_ROOT, SERVERS, free_port, running, server_argv, wait_until

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.metered_app:app"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/ops/metrics", timeout=10)
    assert response.status_code == 200
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_of(samples: Samples, route: str, status: str = "200") -> float:
    key = (("method", "GET"), ("route", route), ("status", status))
    return samples.get(("velocipy_requests_total", key), 0.0)


@pytest.mark.parametrize("kind", SERVERS)
def test_counts_match_the_requests_made(kind: str) -> None:
    port = free_port()
    with running(server_argv(kind, TARGET, port), port=port, cwd=REPO_ROOT) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for n in range(7):
                assert client.get(f"/pid/{n}").status_code == 200
            assert client.get("/pid/x").status_code == 422
            assert client.get("/nowhere").status_code == 404
        with connect(f"{server.ws_url}/echo") as ws:
            for text in ("a", "b", "c"):
                ws.send(text)
                ws.recv(timeout=5)
            samples = scrape(server.url)  # while the WebSocket is open
        assert requests_of(samples, "/pid/{n}") == 7
        assert requests_of(samples, "/pid/{n}", "422") == 1
        assert requests_of(samples, "<unmatched>", "404") == 1
        key = (("method", "GET"), ("route", "/pid/{n}"), ("status", "200"))
        assert samples["velocipy_request_duration_seconds_count", key] == 7
        every_bucket = (("le", "+Inf"), *key)
        assert samples["velocipy_request_duration_seconds_bucket", every_bucket] == 7
        assert samples["velocipy_requests_in_flight", ()] == 1  # the scrape itself
        assert samples["velocipy_websockets_open", (("route", "/echo"),)] == 1
        for direction in ("in", "out"):
            labels = (("direction", direction), ("route", "/echo"))
            assert samples["velocipy_websocket_messages_total", labels] == 3
        assert "Traceback" not in server.output()


@pytest.mark.parametrize("kind", ["uvicorn", "granian-rsgi"])
def test_counts_are_summed_over_two_workers(kind: str, tmp_path: Path) -> None:
    port = free_port()
    argv = server_argv(kind, TARGET, port)
    if kind == "uvicorn":
        argv += ["--workers", "2"]
    else:
        argv[argv.index("--workers") + 1] = "2"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with running(argv, port=port, cwd=REPO_ROOT, env=env, ready_timeout=30) as server:
        pids: set[int] = set()
        made = 0
        while len(pids) < 2 and made < 400:  # a new connection each: the kernel spreads them
            pids.add(httpx.get(f"{server.url}/pid/{made}", timeout=10).json()["pid"])
            made += 1
        assert len(pids) == 2, f"one worker answered all {made} requests"
        assert requests_of(scrape(server.url), "/pid/{n}") == made
        assert requests_of(scrape(server.url), "/pid/{n}") == made  # any worker answers the same
        with httpx.Client(base_url=server.url, timeout=10) as client:  # one worker: one connection
            worker = client.post("/listen").json()["pid"]
            for _ in range(5):
                assert client.post("/say").json()["pid"] == worker
        # Backlog 2: the 3rd message is kept while the subscriber has its GRACE_SECONDS to
        # catch up (the delivery after it waits for that); it never reads, so the 4th and 5th
        # push the oldest out. Messages that follow each other this closely are held for the
        # hub's linger first. Each worker writes its figures every 0.1 s; a scrape sums them.
        assert wait_until(
            lambda: scrape(server.url).get(("velocipy_channel_messages_dropped_total", ())) == 2
        )
        assert scrape(server.url)["velocipy_channel_queued_messages", ()] == 3
        assert "Traceback" not in server.output()
    assert list(tmp_path.glob("counter_*.db"))  # the workers wrote their values there
