"""WebSocket cost per echoed message in process: each app's echo handler over fake transports.

python bench/inprocess_ws.py                 # ns per message, ASGI and RSGI
python bench/inprocess_ws.py --instructions  # instructions per message (valgrind)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import build_apps

TEXT = "Hello, WebSocket!"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def asgi_scope() -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "extensions": {},
        "state": {},
    }


async def run_asgi(app: Any, n: int) -> int:
    messages = iter(
        [
            {"type": "websocket.connect"},
            *({"type": "websocket.receive", "text": TEXT} for _ in range(n)),
            {"type": "websocket.disconnect", "code": 1000},
        ]
    )
    sent = 0

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        if message["type"] == "websocket.send":
            sent += 1

    await app(asgi_scope(), receive, send)
    return sent


class _Message:
    __slots__ = ("data", "kind")

    def __init__(self, kind: int, data: Any) -> None:
        self.kind = kind
        self.data = data


class _Transport:
    def __init__(self, n: int) -> None:
        self.messages = iter([*(_Message(2, TEXT) for _ in range(n)), _Message(0, None)])
        self.sent = 0

    async def receive(self) -> _Message:
        return next(self.messages)

    async def send_str(self, data: str) -> None:
        self.sent += 1

    async def send_bytes(self, data: bytes) -> None:
        self.sent += 1


class _Protocol:
    def __init__(self, n: int) -> None:
        self.transport = _Transport(n)

    async def accept(self) -> _Transport:
        return self.transport

    def close(self, status: int | None = None) -> None:
        pass


class _Scope:
    proto = "ws"
    path = "/ws"
    query_string = ""
    scheme = "http"
    server = "127.0.0.1:8000"
    client = "127.0.0.1:50000"
    authority = None
    http_version = "1.1"
    rsgi_version = "1.6"
    method = "GET"
    headers: dict[str, str] = {"host": "127.0.0.1:8000"}


async def run_rsgi(app: Any, n: int) -> int:
    protocol = _Protocol(n)
    entry = app.__rsgi__ if hasattr(app, "__rsgi__") else app
    await entry(_Scope(), protocol)
    return protocol.transport.sent


def _run(framework: str, interface: str, n: int) -> int:
    app = build_apps([framework])[framework](interface)
    run = run_asgi if interface == "asgi" else run_rsgi
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run(app, 100))  # warm up
        return loop.run_until_complete(run(app, n))
    finally:
        loop.close()


def ns_per_message(framework: str, interface: str, n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter_ns()
        sent = _run(framework, interface, n)
        best = min(best, (time.perf_counter_ns() - started) / n)
        if sent != n:
            raise RuntimeError(f"{framework} {interface}: echoed {sent} of {n} messages")
    return best


def instructions_per_message(framework: str, interface: str, n: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    totals = []
    for count in (n, 3 * n):
        argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
        argv += [__file__, "--inner", framework, interface, str(count)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        match = _COLLECTED.search(result.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count from valgrind:\n{result.stderr[-800:]}")
        totals.append(int(match.group(1)))
    return round((totals[1] - totals[0]) / (2 * n))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        _run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["bare", "velocipy", "starlette"])
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    for interface in ("asgi", "rsgi"):
        for framework in args.only:
            if build_apps([framework])[framework](interface) is None:
                continue
            if args.instructions:
                value = f"{instructions_per_message(framework, interface, args.n // 5)} instr"
            else:
                value = f"{ns_per_message(framework, interface, args.n, 3):.0f} ns"
            print(f"{interface:<5} {framework:<12} {value:>14} per message")


if __name__ == "__main__":
    main()
