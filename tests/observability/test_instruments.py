"""The observability instruments in process, over ASGI and RSGI (the ``protocol`` fixture).

The real-server proofs are in test_access_interop.py, test_otel_interop.py and
test_prometheus_interop.py; these pin the details and the cost when off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ClientFactory
from velocipy import HTTPException, StreamingResponse, VelociPy, WebSocket
from velocipy.observability import (
    AccessLog,
    Health,
    Prometheus,
    RequestID,
    ServerTiming,
    current_request_id,
)


def routes(app: VelociPy) -> VelociPy:
    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"item_id": item_id, "request_id": current_request_id()}

    @app.get("/fail")
    async def fail() -> None:
        raise HTTPException(418, "teapot")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            yield "ab"
            yield "cde"

        return StreamingResponse(chunks())

    @app.websocket("/ws/{room}")
    async def room(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        await websocket.send_text(room + (await websocket.receive_text()))
        await websocket.close(4001)

    @app.websocket("/refused")
    async def refused(websocket: WebSocket) -> None:
        await websocket.refuse(401)

    return app


def test_no_instrument_keeps_the_bare_dispatchers() -> None:
    from velocipy.application import Application

    app = routes(VelociPy())
    assert app.handle_http == app._dispatch_http
    assert app.handle_websocket.__func__ is Application.handle_websocket  # type: ignore[attr-defined]
    app.add_instrument(Health())  # routes only: still no wrapper around requests
    assert app.handle_http == app._dispatch_http
    assert app.handle_websocket.__func__ is Application.handle_websocket  # type: ignore[attr-defined]
    app.add_instrument(RequestID())
    assert app.handle_http.__name__ == "with_request_id"
    assert app.handle_websocket.__name__ == "with_request_id"


def test_instruments_wrap_middleware_added_before_and_after() -> None:
    app = routes(VelociPy())
    app.add_instrument(RequestID())
    seen: list[str | None] = []

    @app.middleware
    async def remember(request: Any, call_next: Any) -> Any:
        seen.append(current_request_id())
        return await call_next(request)

    assert app.handle_http.__name__ == "with_request_id"
    from velocipy.testing import TestClient

    with TestClient(app) as client:
        response = client.get("/items/1", headers={"x-request-id": "mw-1"})
    assert response.headers["x-request-id"] == "mw-1"
    assert seen == ["mw-1"]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def access_logger() -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(f"test.access.{id(object())}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.addHandler(lines)
    return logger, lines


def test_access_log_text_lines(client_for: ClientFactory) -> None:
    logger, lines = access_logger()
    app = routes(VelociPy())
    app.add_instrument(AccessLog(logger=logger))
    client = client_for(app)
    client.get("/items/5", headers={"x-request-id": "t-1"})
    client.get("/fail", headers={"x-request-id": "t-2"})
    client.get("/stream", headers={"x-request-id": "t-3"})
    with client.websocket_connect("/ws/r", headers={"x-request-id": "t-4"}) as ws:
        ws.send_text("!")
        assert ws.receive_text() == "r!"
    with pytest.raises(Exception):
        with client.websocket_connect("/refused", headers={"x-request-id": "t-5"}):
            pass
    pattern = r'\S+ "GET /items/5" route=/items/\{item_id\} 200 \d+B [\d.]+ms id=t-1'
    assert re.fullmatch(pattern, lines.lines[0]), lines.lines[0]
    assert re.fullmatch(r'\S+ "GET /fail" route=/fail 418 \d+B [\d.]+ms id=t-2', lines.lines[1])
    assert re.fullmatch(r'\S+ "GET /stream" route=/stream 200 5B [\d.]+ms id=t-3', lines.lines[2])
    ws_line = r'\S+ "WS /ws/r" route=/ws/\{room\} 101 close=4001 in=1/1B out=1/2B [\d.]+ms id=t-4'
    assert re.fullmatch(ws_line, lines.lines[3]), lines.lines[3]
    assert re.fullmatch(
        r'\S+ "WS /refused" route=/refused 401 in=0/0B out=0/0B [\d.]+ms id=t-5', lines.lines[4]
    ), lines.lines[4]
    assert len(lines.lines) == 5


def test_access_log_escapes_control_characters_in_paths(client_for: ClientFactory) -> None:
    logger, lines = access_logger()
    app = routes(VelociPy())
    app.add_instrument(AccessLog(logger=logger))
    client_for(app).get("/nope%1b[31m")
    assert "\x1b" not in lines.lines[0]
    assert "\\x1b" in lines.lines[0]


def test_access_log_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="'text' or 'json', not 'xml'"):
        AccessLog("xml")  # type: ignore[arg-type]


def test_server_timing_phases(client_for: ClientFactory) -> None:
    app = routes(VelociPy())
    app.add_instrument(ServerTiming())

    @app.get("/late")  # registered after the instrument: built with its route hook
    async def late() -> dict[str, int]:
        return {"late": 1}

    client = client_for(app)
    for path in ("/items/3", "/late"):
        header = client.get(path).headers["server-timing"]
        names = [part.split(";")[0] for part in header.split(", ")]
        assert names == ["route", "params", "handler", "encode", "total"], header
        durations = [float(d) for d in re.findall(r"dur=([\d.]+)", header)]
        assert all(d >= 0 for d in durations)
        assert durations[4] >= max(durations[:4])
    not_found = client.get("/missing").headers["server-timing"]
    assert not_found.startswith("total;dur=")  # no handler ran: only the total


def test_health_and_readiness(client_for: ClientFactory) -> None:
    app = VelociPy()
    health = Health(timeout=0.2)
    state = {"db": True}

    async def slow() -> None:
        await asyncio.sleep(5)

    def failing() -> None:
        raise ConnectionError("refused")

    health.add_check("db", lambda: state["db"])
    app.add_instrument(health)
    client = client_for(app)
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["db"]["status"] == "ok"
    state["db"] = False
    health.add_check("slow", slow)
    health.add_check("broken", failing)
    unready = client.get("/ready")
    assert unready.status_code == 503
    body = unready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["db"] == {
        "status": "failed",
        "error": "the check returned False",
        "duration_ms": body["checks"]["db"]["duration_ms"],
    }
    assert body["checks"]["slow"] == {"status": "timeout", "error": "no answer within 0.2s"}
    assert body["checks"]["broken"] == {"status": "failed", "error": "ConnectionError: refused"}
    assert "/health" not in json.dumps(app.openapi())


def test_health_refuses_a_non_positive_timeout() -> None:
    with pytest.raises(ValueError, match="must be positive, not 0"):
        Health(timeout=0)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_prometheus_counts_requests_and_websockets(client_for: ClientFactory) -> None:
    app = routes(VelociPy())
    app.add_instrument(Prometheus(path="/internal/metrics"))
    client = client_for(app)
    for _ in range(3):
        client.get("/items/1")
    client.get("/fail")
    client.get("/missing")
    client.get("/stream")
    with client.websocket_connect("/ws/a") as ws:
        ws.send_text("x")
        ws.receive_text()
    metrics = client.get("/internal/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    found = samples(metrics.text)
    key = (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200"))
    assert found["velocipy_requests_total", key] == 3
    assert found["velocipy_request_duration_seconds_count", key] == 3
    assert (
        found["velocipy_requests_total", (("method", "GET"), ("route", "/fail"), ("status", "418"))]
        == 1
    )
    assert (
        found[
            "velocipy_requests_total",
            (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
        ]
        == 1
    )
    assert (
        found[
            "velocipy_requests_total", (("method", "GET"), ("route", "/stream"), ("status", "200"))
        ]
        == 1
    )
    assert found["velocipy_requests_in_flight", ()] == 1  # the metrics request itself
    assert found["velocipy_websockets_open", (("route", "/ws/{room}"),)] == 0
    assert found["velocipy_websockets_total", (("route", "/ws/{room}"), ("status", "101"))] == 1
    assert (
        found["velocipy_websocket_messages_total", (("direction", "in"), ("route", "/ws/{room}"))]
        == 1
    )
    assert (
        found["velocipy_websocket_messages_total", (("direction", "out"), ("route", "/ws/{room}"))]
        == 1
    )


def test_the_optional_libraries_load_only_with_their_instrument() -> None:
    probe = (
        "import sys, velocipy.observability\n"
        "print(sorted(m for m in sys.modules if m.startswith(('prometheus', 'opentelemetry'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("library", "instrument", "extra"),
    [("prometheus_client", "Prometheus", "prometheus"), ("opentelemetry", "OpenTelemetry", "otel")],
)
def test_a_missing_extra_says_how_to_install_it(library: str, instrument: str, extra: str) -> None:
    probe = (
        f"import sys; sys.modules[{library!r}] = None\n"
        "from velocipy import observability\n"
        f"observability.{instrument}()"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ")
    assert f"install the {extra} extra (pip install -e '.[{extra}]' in a clone)" in last


def test_prometheus_counts_unknown_methods_as_other(client_for: ClientFactory) -> None:
    app = routes(VelociPy())
    app.add_instrument(Prometheus())
    client = client_for(app)
    for method in ("FOO", "BAR", "GET"):
        client.request(method, "/items/1")
    found = samples(client.get("/metrics").text)
    route = ("route", "/items/{item_id}")
    assert found["velocipy_requests_total", (("method", "_OTHER"), route, ("status", "405"))] == 2
    assert found["velocipy_requests_total", (("method", "GET"), route, ("status", "200"))] == 1
    assert not any(("method", "FOO") in labels for _, labels in found)


def test_a_request_that_crashes_in_debug_mode_is_still_logged_and_counted(
    client_for: ClientFactory,
) -> None:
    logger, lines = access_logger()
    app = VelociPy(debug=True)
    metrics = Prometheus()
    app.add_instrument(AccessLog(logger=logger))
    app.add_instrument(metrics)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    client = client_for(app, raise_server_exceptions=False)
    client.get("/crash", headers={"x-request-id": "c-1"})
    assert re.fullmatch(r'\S+ "GET /crash" route=/crash 500 0B [\d.]+ms id=c-1', lines.lines[0])
    found = samples(client.get("/metrics").text)
    labels = (("method", "GET"), ("route", "/crash"), ("status", "500"))
    assert found["velocipy_requests_total", labels] == 1
    assert found["velocipy_requests_in_flight", ()] == 1  # the metrics request alone


def test_a_missing_multiprocess_directory_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    missing = str(tmp_path / "absent")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", missing)
    with pytest.raises(ValueError, match="is not a directory: create it"):
        Prometheus()
