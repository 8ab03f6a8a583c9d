"""Instructions per request inside a real server process, counted by valgrind (load-independent).

The server runs under ``valgrind --tool=callgrind`` (its worker processes too). After a warm-up,
the live instruction counters of every process and thread of the server are read with
``callgrind_control``, ``n`` sequential keep-alive requests are sent, and the counters are read
again: the difference divided by ``n`` is what one request costs the server (Python, the
server's own code and the framework), with start-up and shutdown left out.

Counters are read from the running processes because granian's workers do not shut down under
valgrind, so totals printed at exit never come.

    python bench/server_instructions.py --server granian-rsgi --only bare floor velocipy -n 300
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import BENCH_DIR, SERVE_DIR, SERVERS, free_port, interface_of, server_argv, serves

ENDPOINTS = {"plaintext": "/plaintext", "json": "/json", "path-param": "/users/42"}
_THREAD_COUNT = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)", re.MULTILINE)
_WARM_UP = 50


def _running_counters(group: int) -> int:
    """Instructions so far, summed over every thread of every process in ``group``."""
    pids = subprocess.run(
        ["pgrep", "-g", str(group)], capture_output=True, text=True, check=False
    ).stdout.split()
    total = 0
    for pid in pids:
        shown = subprocess.run(
            ["callgrind_control", "-e", "Ir", pid], capture_output=True, text=True, check=False
        ).stdout
        total += sum(int(count.replace(",", "")) for count in _THREAD_COUNT.findall(shown))
    return total


def _get(connection: http.client.HTTPConnection, path: str) -> int:
    connection.request("GET", path)
    reply = connection.getresponse()
    reply.read()
    return reply.status


def per_request(framework: str, server: str, endpoint: str, n: int) -> int:
    path = ENDPOINTS[endpoint]
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-callgrind-", suffix=".log")[1])
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--callgrind-out-file=/dev/null",
        *server_argv(sys.executable, server, port),
    ]
    env = {
        **os.environ,
        "BENCH_APP": framework,
        "BENCH_INTERFACE": interface_of(server),
        "PYTHONPATH": f"{SERVE_DIR}{os.pathsep}{BENCH_DIR}",
        "PYTHONHASHSEED": "0",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=SERVE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        connection = _connect(process, port, path, log)
        for _ in range(_WARM_UP):
            _get(connection, path)
        before = _running_counters(process.pid)
        for _ in range(n):
            _get(connection, path)
        after = _running_counters(process.pid)
        connection.close()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        log.unlink(missing_ok=True)
    if before == 0:
        raise RuntimeError("callgrind_control read no counters (is valgrind's vgdb available?)")
    return round((after - before) / n)


def _connect(
    process: subprocess.Popen[bytes], port: int, path: str, log: Path
) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 300  # a server starts slowly under valgrind
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if _get(connection, path) == 200:
                return connection
        except OSError:
            time.sleep(0.5)


# The end-to-end targets of issue 16, as the share of the bare app's speed to keep.
TARGET_RATIO = {"granian-rsgi": 0.95, "granian-asgi": 0.9, "uvicorn": 0.9}


def run(servers: list[str], endpoints: list[str], n: int, log: Any = print) -> list[dict[str, Any]]:
    """bare, the floor (``floor.py``) and VelociPy per server and endpoint.

    ``budget`` is what a framework may add to the bare app's instructions and still keep
    ``TARGET_RATIO`` of its speed; ``floor_added`` is what the least possible framework adds.
    """
    rows = []
    for server in servers:
        for endpoint in endpoints:
            bare = per_request("bare", server, endpoint, n)
            floor = per_request("floor", server, endpoint, n)
            ours = per_request("velocipy", server, endpoint, n)
            budget = round(bare * (1 / TARGET_RATIO[server] - 1))
            log(
                f"  instructions {server:<13} {endpoint:<10} "
                f"bare {bare} floor {floor} velocipy {ours}"
            )
            rows.append(
                {
                    "server": server,
                    "endpoint": endpoint,
                    "bare": bare,
                    "floor": floor,
                    "velocipy": ours,
                    "floor_added": floor - bare,
                    "added": ours - bare,
                    "budget": budget,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The section of docs/benchmarks.md that shows where the end-to-end ratios come from."""
    if not rows:
        return []
    out = ["## Instructions per request inside the servers", ""]
    out += [
        "Counted by valgrind in the real server process (`bench/server_instructions.py`: "
        "load-independent, sequential keep-alive requests). *Budget* is what a framework may "
        "add to the bare app and still keep the end-to-end target ratio of its speed "
        "(0.95x on granian RSGI, 0.9x on granian ASGI and uvicorn), were time proportional "
        "to instructions. The *floor* is the least any framework adds: a request object, a "
        "route table, an awaited handler and a response object, nothing else "
        "(`bench/floor.py`).",
        "",
        "| server | endpoint | bare | floor | velocipy | floor adds | velocipy adds | budget |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {r['server']} | {r['endpoint']} | {r['bare']:,} | {r['floor']:,} | "
            f"{r['velocipy']:,} | {r['floor_added']:,} | {r['added']:,} | {r['budget']:,} |"
        )
    return [*out, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    parser.add_argument("--only", nargs="*", default=["bare", "floor", "velocipy"])
    parser.add_argument("--endpoint", nargs="*", default=["plaintext"], choices=list(ENDPOINTS))
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    for endpoint in args.endpoint:
        for framework in args.only:
            if not serves(framework, args.server):
                continue
            count = per_request(framework, args.server, endpoint, args.n)
            print(f"{args.server:<13} {endpoint:<10} {framework:<12} {count:>9} instructions")


if __name__ == "__main__":
    main()
