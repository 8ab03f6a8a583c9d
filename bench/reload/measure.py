"""Save-to-new-code time: `velocipy run` (uvicorn and granian) vs `uvicorn --reload` and
`granian --reload`, all serving the same VelociPy app from a temp project on loopback.

Each round rewrites main.py with a new answer and polls GET / every few milliseconds until the
new answer arrives. Prints median / p90 / max per server (milliseconds). A script, not a test:

    .venv/bin/python bench/reload/measure.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent

APP = """\
from velocipy import VelociPy

app = VelociPy()


@app.get("/")
async def index() -> str:
    return "{answer}"
"""


def commands(port: int) -> dict[str, list[str]]:
    velocipy, uvicorn, granian = (str(BIN / name) for name in ("velocipy", "uvicorn", "granian"))
    common = ["--host", "127.0.0.1", "--port", str(port)]
    return {
        "velocipy run --asgi (uvicorn)": [velocipy, "run", "--asgi", *common, "--no-access-log"],
        "velocipy run --rsgi (granian)": [velocipy, "run", "--rsgi", *common, "--no-access-log"],
        "uvicorn --reload": [uvicorn, "main:app", "--reload", *common, "--log-level", "warning"],
        "granian --reload (rsgi)": [
            granian, "main:app", "--interface", "rsgi", "--reload", *common,
            "--log-level", "warning",
        ],
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def wait_for(port: int, answer: str, timeout: float = 20.0) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if fetch(port) == answer:
            return time.perf_counter() - start
        time.sleep(0.005)
    return None


@contextlib.contextmanager
def serving(argv: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (cwd.parent / "server.log").open("wb")
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(8)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


def measure(name: str, rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="velocipy-reload-") as folder:
        project = Path(folder) / "project"
        project.mkdir()
        main = project / "main.py"
        main.write_text(APP.format(answer="start"))
        port = free_port()
        timings: list[float] = []
        with serving(commands(port)[name], project):
            if wait_for(port, "start") is None:
                print(f"{name}: did not start", file=sys.stderr)
                return []
            for number in range(rounds):
                time.sleep(0.3)  # let the previous reload settle completely
                answer = f"round {number}"
                started = time.perf_counter()
                main.write_text(APP.format(answer=answer))
                if wait_for(port, answer) is None:
                    print(f"{name}: round {number} never served", file=sys.stderr)
                    break
                timings.append(time.perf_counter() - started)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    print(f"save -> new code answering, {options.rounds} rounds each (ms)")
    print(f"{'server':34} {'median':>8} {'p90':>8} {'max':>8}")
    for name in commands(0):
        timings = sorted(measure(name, options.rounds))
        if not timings:
            print(f"{name:34} {'failed':>8}")
            continue
        p90 = timings[min(len(timings) - 1, int(len(timings) * 0.9))]
        print(
            f"{name:34} {statistics.median(timings) * 1000:8.0f} {p90 * 1000:8.0f}"
            f" {timings[-1] * 1000:8.0f}"
        )


if __name__ == "__main__":
    main()
