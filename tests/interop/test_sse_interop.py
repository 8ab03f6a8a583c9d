"""Server-Sent Events over real uvicorn, granian RSGI and granian ASGI.

Events, ids, JSON data and Last-Event-ID as a real client reads them; the disconnect
rule is in test_sse_disconnect_interop.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.interop.files_tree import build_tree, serve_files
from tests.support import SERVERS, ServerProcess

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = build_tree(tmp_path_factory.mktemp(f"sse-{request.param}"))
    with serve_files(str(request.param), root) as process:
        process.markers = root / "markers"  # type: ignore[attr-defined]
        yield process


def read_events(lines: Iterator[str], count: int) -> list[dict[str, str]]:
    """Parse ``count`` events (field -> value) from an SSE line stream; comments are kept."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if line == "":
            if current:
                events.append(current)
                current = {}
                if len(events) == count:
                    return events
            continue
        name, _, value = line.partition(": ")
        current[name] = f"{current[name]}\n{value}" if name in current else value
    return events


def test_events_are_streamed_with_ids_and_json_data(server: ServerProcess) -> None:
    with httpx.stream("GET", server.url + "/events", timeout=10.0) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        events = read_events(response.iter_lines(), 4)
    assert events[0] == {"retry": "200"}
    assert [e["id"] for e in events[1:]] == ["1", "2", "3"]
    assert json.loads(events[1]["data"]) == {"n": 1, "resumed": None}


def test_last_event_id_resumes(server: ServerProcess) -> None:
    headers = {"last-event-id": "41"}
    with httpx.stream("GET", server.url + "/events", headers=headers, timeout=10.0) as response:
        events = read_events(response.iter_lines(), 2)
    assert json.loads(events[1]["data"]) == {"n": 42, "resumed": "41"}
