"""In-process cost per request through the ASGI and RSGI entry points, as ratios to a bare app.

No server and no sockets: each app is called directly with minimal scope/receive/send (ASGI) or
scope/protocol (RSGI) objects, so what is measured is the framework's own work per request.
Peer frameworks are measured when installed (``pip install -e '.[bench]'``).

    python bench/inprocess.py            # all scenarios, all installed frameworks
    python bench/inprocess.py --quick    # fewer rounds
    python bench/inprocess.py --json     # rows as JSON (how ``python -m bench`` runs it)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import SCENARIOS, build_apps


# --- minimal protocol objects (shared by every app: the cost is the same for all) ---------
class RSGIHeaders(dict[str, str]):
    def get_all(self, key: str) -> list[str]:
        value = self.get(key)
        return [] if value is None else [value]


class RSGIScope:
    __slots__ = (
        "authority",
        "client",
        "headers",
        "http_version",
        "method",
        "path",
        "proto",
        "query_string",
        "rsgi_version",
        "scheme",
        "server",
    )

    def __init__(self, method: str, path: str, query: str) -> None:
        self.proto = "http"
        self.rsgi_version = "1.6"
        self.http_version = "1.1"
        self.server = "127.0.0.1:8000"
        self.client = "127.0.0.1:50000"
        self.scheme = "http"
        self.method = method
        self.path = path
        self.query_string = query
        self.authority = None
        self.headers = RSGIHeaders({"host": "127.0.0.1:8000", "user-agent": "bench"})


class RSGIProtocol:
    __slots__ = ("body", "status")

    def __init__(self) -> None:
        self.status = 0
        self.body: Any = None

    async def __call__(self) -> bytes:
        return b""

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.body = body

    def response_str(self, status: int, headers: Any, body: str) -> None:
        self.status = status
        self.body = body

    def response_empty(self, status: int, headers: Any) -> None:
        self.status = status


def asgi_scope(method: str, path: str, query: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def make_asgi_runner(app: Any, method: str, path: str, query: str) -> Callable[[int], Any]:
    async def run(n: int) -> int:
        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        for _ in range(n):
            await app(asgi_scope(method, path, query), _receive, send)
        return status

    return run


def make_rsgi_runner(app: Any, method: str, path: str, query: str) -> Callable[[int], Any]:
    entry = app.__rsgi__ if hasattr(app, "__rsgi__") else app

    async def run(n: int) -> int:
        protocol = RSGIProtocol()
        for _ in range(n):
            protocol = RSGIProtocol()
            await entry(RSGIScope(method, path, query), protocol)
        return protocol.status

    return run


def measure(runner: Callable[[int], Any], n: int, rounds: int) -> tuple[float, int]:
    """Best-of-rounds nanoseconds per request, and the last status seen."""
    loop = asyncio.new_event_loop()
    try:
        status = loop.run_until_complete(runner(200))  # warm up
        timings = []
        for _ in range(rounds):
            gc.collect()
            start = time.perf_counter_ns()
            status = loop.run_until_complete(runner(n))
            timings.append((time.perf_counter_ns() - start) / n)
        return min(timings), status
    finally:
        loop.close()


def run(only: list[str] | None, n: int, rounds: int, log: Any = None) -> list[dict[str, Any]]:
    """One row per (scenario, interface, framework): best-of-rounds ns per request, x bare."""
    apps = build_apps(only)
    rows: list[dict[str, Any]] = []
    for scenario in SCENARIOS:
        for interface in ("asgi", "rsgi"):
            bare_ns = None
            for name, factory in apps.items():
                app = factory(interface)
                if app is None:
                    continue
                method, path, query = scenario.request
                make = make_asgi_runner if interface == "asgi" else make_rsgi_runner
                ns, status = measure(make(app, method, path, query), n, rounds)
                if name == "bare":
                    bare_ns = ns
                row = {
                    "scenario": scenario.name,
                    "interface": interface,
                    "framework": name,
                    "ns_per_request": round(ns, 1),
                    "x_bare": round(ns / bare_ns, 3) if bare_ns else None,
                    "status": status,
                }
                rows.append(row)
                if log is not None:
                    log(row)
    return rows


def _print_row(row: dict[str, Any]) -> None:
    ratio = f"{row['x_bare']:.2f}" if row["x_bare"] else "-"
    print(
        f"{row['scenario']:<10} {row['interface']:<5} {row['framework']:<12} "
        f"{row['ns_per_request']:>9.0f} {ratio:>7}  {row['status']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", help="framework names to run")
    parser.add_argument("-n", type=int, help="requests per round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    args = parser.parse_args()
    n, rounds = (2000, 3) if args.quick else (10000, 5)
    n, rounds = args.n or n, args.rounds or rounds
    if args.json:
        print(json.dumps(run(args.only, n, rounds)))
        return
    print(
        f"{'scenario':<10} {'interface':<5} {'framework':<12} {'ns/req':>9} {'x bare':>7}  status"
    )
    run(args.only, n, rounds, log=_print_row)


if __name__ == "__main__":
    main()
