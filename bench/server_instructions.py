"""Instructions per request, or per WebSocket message, inside a real server process, counted
by valgrind (load-independent).

The server runs under ``valgrind --tool=callgrind`` (its worker processes too). After a warm-up,
the live instruction counters of every process and thread of the server are read with
``callgrind_control``, ``n`` units of work are done (sequential keep-alive requests, or
messages echoed over one WebSocket, 1 or 8 in flight), and the counters are read again: the
difference divided by ``n`` is what one unit costs the server (Python, the server's own code
and the framework), with start-up and shutdown left out.

Counters are read from the running processes because granian's workers do not shut down under
valgrind, so totals printed at exit never come.

    python bench/server_instructions.py --server granian-rsgi --only bare floor velocipy -n 300
    python bench/server_instructions.py --server uvicorn --endpoint ws-1 ws-8 -n 400
    python bench/server_instructions.py --server uvicorn --endpoint stack --only velocipy fastapi
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from websockets.exceptions import InvalidHandshake
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import BENCH_DIR, SERVE_DIR, SERVERS, free_port, interface_of, server_argv, serves

ENDPOINTS = {"plaintext": "/plaintext", "json": "/json", "path-param": "/users/42"}
_THREAD_COUNT = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)", re.MULTILINE)
_WARM_UP = 48  # units before counting (a multiple of every in-flight count)
ECHO_IN_FLIGHT = (1, 8)
ECHOED = "Hello, WebSocket!"
T = TypeVar("T")


def running_counters(group: int) -> int:
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


@contextlib.contextmanager
def under_valgrind(
    argv: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``argv`` run with ``env`` (added to this one's) in ``SERVE_DIR``, its processes counted
    by callgrind, and the log it writes; killed after."""
    log = Path(tempfile.mkstemp(prefix="bench-callgrind-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--trace-children=yes",
                "--callgrind-out-file=/dev/null",
                *argv,
            ],
            cwd=SERVE_DIR,
            env={**os.environ, "PYTHONHASHSEED": "0", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        log.unlink(missing_ok=True)


@contextlib.contextmanager
def _under_valgrind(
    framework: str, server: str, suite: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """The server serving ``framework``, its processes counted by callgrind; killed after."""
    port = free_port()
    env = {
        "BENCH_APP": framework,
        "BENCH_INTERFACE": interface_of(server),
        "PYTHONPATH": f"{SERVE_DIR}{os.pathsep}{BENCH_DIR}",
        **({"BENCH_SUITE": suite} if suite else {}),
    }
    with under_valgrind(server_argv(sys.executable, server, port), env) as (process, log):
        yield process, port, log


def _counted(process: subprocess.Popen[bytes], work: Callable[[int], object], n: int) -> int:
    """Instructions the server spends on one of ``n`` units of ``work``, after a warm-up."""
    work(_WARM_UP)
    before = running_counters(process.pid)
    work(n)
    after = running_counters(process.pid)
    if before == 0:
        raise RuntimeError("callgrind_control read no counters (is valgrind's vgdb available?)")
    return round((after - before) / n)


def per_request(framework: str, server: str, endpoint: str, n: int) -> int:
    path = ENDPOINTS[endpoint]
    with _under_valgrind(framework, server) as (process, port, log):
        connection = _started(process, log, lambda: _http_connection(port, path))

        def requests(count: int) -> None:
            for _ in range(count):
                _get(connection, path)

        try:
            return _counted(process, requests, n)
        finally:
            connection.close()


def per_stack_request(framework: str, server: str, n: int) -> int:
    """Instructions per ``POST /orders`` of the feature-stack tier (``stack_apps.py``: CORS,
    GZip, a session read and written, a token, three dependencies, a validated body)."""
    import stack  # PERF: the stack tier's helpers, only for this unit

    with _under_valgrind(framework, server, suite=stack.SUITE) as (process, port, log):
        connection = _started(process, log, lambda: _http_connection(port, "/plaintext"))
        headers = stack.request_headers(stack.session_cookie(port))

        def orders(count: int) -> None:
            for _ in range(count):
                connection.request("POST", "/orders", body=stack.ORDER, headers=headers)
                reply = connection.getresponse()
                reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"POST /orders answered {reply.status}")

        try:
            return _counted(process, orders, n)
        finally:
            connection.close()


def per_message(framework: str, server: str, in_flight: int, n: int) -> int:
    """Instructions per echoed WebSocket message, ``in_flight`` sent before the replies are read."""
    if n % in_flight:
        raise ValueError(f"n={n} is not a multiple of {in_flight} messages in flight")
    with _under_valgrind(framework, server) as (process, port, log):
        websocket = _started(process, log, lambda: _websocket(port))

        def echo(count: int) -> None:
            for _ in range(count // in_flight):
                for _ in range(in_flight):
                    websocket.send(ECHOED)
                for _ in range(in_flight):
                    websocket.recv()

        with websocket:
            return _counted(process, echo, n)


def _http_connection(port: int, path: str) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if _get(connection, path) != 200:
        raise OSError("not serving yet")
    return connection


def _websocket(port: int) -> ClientConnection:
    try:
        return connect(f"ws://127.0.0.1:{port}/ws", open_timeout=60)
    except InvalidHandshake as exc:  # accepted before the app was ready: try again
        raise OSError(str(exc)) from exc


def _started(process: subprocess.Popen[bytes], log: Path, connect: Callable[[], T]) -> T:
    """``connect()``, retried while the server starts (slowly, under valgrind)."""
    deadline = time.monotonic() + 300
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")
        try:
            return connect()
        except OSError:
            time.sleep(0.5)


# The end-to-end targets of issue 16, as the share of the bare app's speed to keep.
TARGET_RATIO = {"granian-rsgi": 0.95, "granian-asgi": 0.9, "uvicorn": 0.9}
WS_TARGET_RATIO = 0.95  # every server, 1 and 8 messages in flight


def echo_name(in_flight: int) -> str:
    return f"ws-{in_flight}"


UNITS = [*ENDPOINTS, *(echo_name(k) for k in ECHO_IN_FLIGHT)]
STACK_UNIT = "stack"  # run on request only: bare and the floor have no stack route


def per_unit(framework: str, server: str, unit: str, n: int) -> int:
    """``unit``: an HTTP endpoint's name, ``ws-1``/``ws-8`` for a WebSocket echo, or ``stack``
    for the feature-stack route (VelociPy, FastAPI and Litestar have it)."""
    if unit == STACK_UNIT:
        return per_stack_request(framework, server, n)
    if unit in ENDPOINTS:
        return per_request(framework, server, unit, n)
    return per_message(framework, server, int(unit.removeprefix("ws-")), n)


def run(servers: list[str], units: list[str], n: int, log: Any = print) -> list[dict[str, Any]]:
    """bare, the floor (``floor.py``) and VelociPy per server and unit (``UNITS``).

    ``budget`` is what a framework may add to the bare app's instructions and still keep the
    target ratio of its speed; ``floor_added`` is what the least possible framework adds.
    """
    rows = []
    for server in servers:
        for unit in units:
            bare = per_unit("bare", server, unit, n)
            floor = per_unit("floor", server, unit, n)
            ours = per_unit("velocipy", server, unit, n)
            ratio = TARGET_RATIO[server] if unit in ENDPOINTS else WS_TARGET_RATIO
            log(f"  instructions {server:<13} {unit:<10} bare {bare} floor {floor} velocipy {ours}")
            rows.append(
                {
                    "server": server,
                    "endpoint": unit,
                    "bare": bare,
                    "floor": floor,
                    "velocipy": ours,
                    "floor_added": floor - bare,
                    "added": ours - bare,
                    "budget": round(bare * (1 / ratio - 1)),
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The section of docs/benchmarks.md that shows where the end-to-end ratios come from."""
    if not rows:
        return []
    out = ["## Instructions inside the servers", ""]
    out += [
        "Counted by valgrind in the real server process (`bench/server_instructions.py`: "
        "load-independent): per request over sequential keep-alive requests, and per message "
        "echoed over one WebSocket (`ws-1`, `ws-8`: 1 or 8 messages in flight). *Budget* is "
        "what a framework may add to the bare app and still keep the end-to-end target ratio "
        "of its speed (HTTP: 0.95x on granian RSGI, 0.9x on granian ASGI and uvicorn; "
        "WebSocket: 0.95x everywhere), were time proportional to instructions. The *floor* "
        "is the least any framework adds: a request object, a route table, an awaited handler "
        "and a response object; a WebSocket object with two coroutine methods; nothing else "
        "(`bench/floor.py`).",
        "",
        "| server | unit | bare | floor | velocipy | floor adds | velocipy adds | budget |",
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
    parser.add_argument(
        "--endpoint", nargs="*", default=["plaintext"], choices=[*UNITS, STACK_UNIT]
    )
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    for unit in args.endpoint:
        for framework in args.only:
            if not serves(framework, args.server):
                continue
            count = per_unit(framework, args.server, unit, args.n)
            print(f"{args.server:<13} {unit:<10} {framework:<12} {count:>9} instructions")


if __name__ == "__main__":
    main()
