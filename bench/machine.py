"""What a result needs beside its numbers: the machine, versions, load, CPU and memory use.

Server CPU time and memory are read from ``/proc`` for the server's whole process tree (granian
runs its worker in a child process), so they are load-independent in a way wall time is not.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PACKAGES = (
    "velocipy",
    "granian",
    "uvicorn",
    "uvloop",
    "httptools",
    "msgspec",
    "starlette",
    "fastapi",
    "litestar",
    "blacksheep",
    "emmett",
)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def pinning() -> tuple[str | None, str | None]:
    """CPU lists for the server and for the load generator, or (None, None) on one CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    return str(cpus[0]), ",".join(str(c) for c in cpus[1:])


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus else argv


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        result = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (result.stdout or result.stderr).split("\n", 1)[0].strip()
    return {
        "cpu": model,
        "cpus": cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "wrk": wrk_version,
    }


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and of the children they reaped.

    A child's time moves to its parent's ``cutime``/``cstime`` when the parent reaps it, so
    the total over a process tree never falls when a child exits (PostgreSQL ends a
    connection's backend process; without its reaped time the database's CPU over a test
    came out negative).
    """
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * PAGE_SIZE
    return total


class Load:
    """Load average before and after a measurement, so a noisy run shows in its result."""

    def __init__(self) -> None:
        self.before = loadavg()
        self.started = time.time()

    def record(self) -> dict[str, Any]:
        return {"loadavg_before": self.before, "loadavg_after": loadavg()}
