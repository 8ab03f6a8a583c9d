"""bench/fanout.py runs end to end (small sizes): every subscriber gets every message, in order,
in bursts and paced, with latency and server CPU figures, beside the two fan-out floors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_the_fanout_bench_reports_every_delivery(tmp_path: Path) -> None:
    report_path, table_path = tmp_path / "fanout.json", tmp_path / "fanout.md"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fanout.py"), "--apps", "bare", "floor", "velocipy",
         "--servers", "uvicorn", "granian-rsgi", "--subscribers", "12", "--messages", "4",
         "--pace", "0.01", "--slow", "--json", str(report_path), "--markdown", str(table_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    report = json.loads(report_path.read_text())
    runs = report["runs"]
    assert [(r["server"], r["app"], r["backend"], r["workers"], r["mode"]) for r in runs] == [
        (server, app, backend, workers, mode)
        for server in ("uvicorn", "granian-rsgi")
        for app, backend, workers in (
            ("bare", "memory", 1),
            *([("floor", "memory", 1)] if server == "uvicorn" else []),  # ASGI only
            ("velocipy", "memory", 1),
            ("velocipy", "redis", 1),
            ("velocipy", "redis", 2),
        )
        for mode in ("burst", "paced")
    ]
    for run in runs:
        assert run["round"] == 0  # one round unless --rounds says more
        assert run["delivered"] == run["expected"] == 12 * 4
        assert run["in_order"] is True
        assert sum(run["subscribers_per_worker"]) == 12 + (run["mode"] == "burst")  # + slow one
        assert run["delivered_per_second"] > 0
        assert run["server_cpu_us_per_delivery"] >= 0
        assert 0 < run["latency_p50_ms"] <= run["latency_p99_ms"]
        assert isinstance(run["load_average_1m"], float)
        if run["mode"] == "burst":  # the subscriber that read nothing got its messages late
            assert run["slow_subscriber"] == {"received": 4, "closed_by_server": False}
        else:
            assert "slow_subscriber" not in run
    table = table_path.read_text()
    assert "| 12 | velocipy | redis | granian-rsgi | 2 (" in table
    assert "got 4, kept open" in table
