"""bench/fanout.py runs end to end (small sizes): every subscriber gets every message."""

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
        [sys.executable, str(ROOT / "bench" / "fanout.py"), "--subscribers", "20",
         "--messages", "10", "--json", str(report_path), "--markdown", str(table_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    report = json.loads(report_path.read_text())
    runs = report["runs"]
    assert [(run["backend"], run["workers"]) for run in runs] == [
        ("memory", 1),
        ("redis", 1),
        ("redis", 2),
    ]
    for run in runs:
        assert run["delivered"] == 20 * 10
        assert sum(run["subscribers_per_worker"]) == 20
        assert run["delivered_per_second"] > 0
        assert isinstance(run["load_average_1m"], float)
    assert "| redis | uvicorn | 2 |" in table_path.read_text()
