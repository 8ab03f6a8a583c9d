"""Shared by the ws-probe tests: where things are, and a runner for the installed CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import executable

HERE = Path(__file__).resolve().parent
VELOCIPY = executable("velocipy")
PROBE_APP = "tests.cli.probe.probe_app:app"


def probe(
    *args: str,
    stdin: str = "",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``velocipy ws-probe`` with piped stdin (scripted mode), plain output."""
    return subprocess.run(
        [VELOCIPY, "ws-probe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        check=False,
    )
