"""OpenTelemetry spans on real uvicorn, granian RSGI and granian ASGI processes.

The app (tests/interop/apps/traced_app.py) keeps its spans in the SDK's in-memory exporter and
hands them over at ``/finished-spans``: one SERVER span per request named by the route
template, the trace id taken from ``traceparent``, a span per WebSocket with message events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.support import (
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    running,
    server_argv,
    wait_until,
)

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.traced_app:app"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    with running(server_argv(request.param, TARGET, port), port=port, cwd=REPO_ROOT) as process:
        yield process
        assert "Traceback" not in process.output(), process.output()


def finished(client: httpx.Client) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = client.get("/finished-spans").json()
    return [span for span in spans if span["attributes"].get("http.route") != "/finished-spans"]


def test_server_spans_with_route_templates_and_propagated_context(server: ServerProcess) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/items/42", headers={"traceparent": traceparent}).status_code == 200
        assert client.get("/items/x").status_code == 422
        assert client.get("/broken").status_code == 503
        assert client.get("/nowhere").status_code == 404
        spans = finished(client)
    server_spans = [span for span in spans if span["kind"] == "SERVER"]
    assert [span["name"] for span in server_spans] == [
        "GET /items/{item_id}",
        "GET /items/{item_id}",
        "GET /broken",
        "GET",
    ]
    first = server_spans[0]
    assert first["trace_id"] == TRACE_ID
    assert first["parent_id"] == PARENT_ID
    attributes = first["attributes"]
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/items/{item_id}"
    assert attributes["url.path"] == "/items/42"
    assert attributes["url.scheme"] == "http"
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.response.body.size"] == len(b'{"item_id":42}')
    assert attributes["client.address"] == "127.0.0.1"
    assert first["status"] == "UNSET"
    child = next(span for span in spans if span["name"] == "load item")
    assert child["trace_id"] == TRACE_ID
    assert child["parent_id"] == first["span_id"]
    assert server_spans[1]["trace_id"] != TRACE_ID  # no traceparent: a new trace
    assert server_spans[1]["attributes"]["http.response.status_code"] == 422
    assert server_spans[2]["status"] == "ERROR"  # a 5xx
    assert server_spans[3]["status"] == "UNSET"
    assert "http.route" not in server_spans[3]["attributes"]


def test_a_span_per_websocket_with_message_events(server: ServerProcess) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    with connect(
        f"{server.ws_url}/echo/blue", additional_headers={"traceparent": traceparent}
    ) as ws:
        for text in ("one", "three"):
            ws.send(text)
            assert ws.recv(timeout=5) == text
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # the span ends when the handler has seen the client leave: wait for it
        assert wait_until(lambda: any(s["name"].startswith("WS") for s in finished(client)))
        spans = finished(client)
    (span,) = [span for span in spans if span["name"] == "WS /echo/{room}"]
    assert span["kind"] == "SERVER"
    assert span["trace_id"] == TRACE_ID
    assert span["parent_id"] == PARENT_ID
    assert span["attributes"]["http.route"] == "/echo/{room}"
    assert span["attributes"]["http.response.status_code"] == 101
    assert span["attributes"]["websocket.messages.received"] == 2
    assert span["attributes"]["websocket.messages.sent"] == 2
    assert [(event["name"], event["attributes"]["message.size"]) for event in span["events"]] == [
        ("message received", 3),
        ("message sent", 3),
        ("message received", 5),
        ("message sent", 5),
    ]
