"""Scale: route lookup from 10 to 10,000 routes, import and CLI start-up time, idle WebSockets.

Idle WebSockets: N connections (10,000 per worker in the full run) held open on each server's
``/hub`` route from client addresses spread over 127.0.0.0/8, the open-file limit raised for
the servers and the client; the server's RSS growth per connection, and the best of three
times for the hub to send one message to every connection. The bare app and Starlette are
measured alike.

Start-up times are the best of several runs, interleaved between the modules measured, minus
``python -c pass``; they are wall-clock figures, so a loaded machine shows in them (the load
average is recorded beside them).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from inprocess import make_asgi_runner, make_rsgi_runner, measure
from machine import Load
from servers import ServerFailed, serves, serving
from websocket import idle_memory
from ws_client import raise_descriptor_limit

ROUTE_COUNTS = (10, 100, 1000, 10000)
IMPORTS = (
    "velocipy",
    "starlette.applications",
    "fastapi",
    "litestar",
    "blacksheep",
    "emmett",
)


def routed_app(count: int) -> Any:
    """A VelociPy app with ``count`` routes: half static, half with an int parameter."""
    from velocipy import VelociPy

    app = VelociPy()

    async def static_route() -> str:
        return "static"

    async def param_route(item_id: int) -> str:
        return "param"

    for i in range(count // 2):
        app.add_route(f"/s{i}/items", static_route, ["GET"], name=f"s{i}")
        app.add_route(f"/p{i}/items/{{item_id:int}}", param_route, ["GET"], name=f"p{i}")
    return app


def route_lookup(n: int, rounds: int, log: Any = print) -> list[dict[str, Any]]:
    rows = []
    for count in ROUTE_COUNTS:
        app = routed_app(count)
        last = count // 2 - 1
        for kind, path in (("static", f"/s{last}/items"), ("param", f"/p{last}/items/7")):
            for interface in ("asgi", "rsgi"):
                make = make_asgi_runner if interface == "asgi" else make_rsgi_runner
                ns, status = measure(make(app, "GET", path, ""), n, rounds)
                rows.append(
                    {
                        "routes": count,
                        "route": kind,
                        "interface": interface,
                        "ns_per_request": round(ns, 1),
                        "status": status,
                    }
                )
    for row in rows:
        first = next(
            r["ns_per_request"]
            for r in rows
            if r["routes"] == ROUTE_COUNTS[0]
            and r["route"] == row["route"]
            and r["interface"] == row["interface"]
        )
        row["x_10_routes"] = round(row["ns_per_request"] / first, 3)
    for row in rows:
        if row["routes"] == ROUTE_COUNTS[-1]:
            log(
                f"  scale lookup {row['route']:<6} {row['interface']}: {ROUTE_COUNTS[-1]} routes "
                f"{row['x_10_routes']:.2f}x the {ROUTE_COUNTS[0]}-route time"
            )
    return rows


def _environment() -> dict[str, str]:
    """Bytecode on, as after ``pip install`` (which compiles every installed package)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _compile_ours() -> None:
    """Compile VelociPy's bytecode, as a wheel install does, so an editable checkout started
    with PYTHONDONTWRITEBYTECODE is not measured compiling its sources."""
    folders = []
    for package in ("velocipy", "velocipy_cli"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(spec.submodule_search_locations)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders],
        check=False,
        stdout=subprocess.DEVNULL,
        env=_environment(),
    )


def _best_wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_environment()
    )
    return time.perf_counter() - started


def _instructions(argv: list[str]) -> int | None:
    if shutil.which("valgrind") is None:
        return None
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**_environment(), "PYTHONHASHSEED": "0"},
    )
    match = re.search(r"Collected\s*:\s*(\d+)", result.stderr)
    return int(match.group(1)) if match else None


def startup_times(runs: int, instructions: bool = False, log: Any = print) -> dict[str, Any]:
    """Best-of-``runs`` ms for each import (above ``python -c pass``) and ``velocipy --help``;
    with ``instructions``, also their instruction counts (valgrind: load-independent)."""
    load = Load()
    _compile_ours()
    available = [m for m in IMPORTS if _importable(m)]
    cli = str(Path(sys.executable).parent / "velocipy")
    commands = [
        ("pass", [sys.executable, "-c", "pass"]),
        *((m, [sys.executable, "-c", f"import {m}"]) for m in available),
        ("velocipy --help", [cli, "--help"]),
    ]
    best: dict[str, float] = {}
    for _ in range(runs):  # interleaved: a burst of load hits every entry alike
        for key, argv in commands:
            best[key] = min(best.get(key, float("inf")), _best_wall(argv))
    counted = {key: _instructions(argv) for key, argv in commands} if instructions else {}
    baseline = best.pop("pass")
    base_count = counted.get("pass")
    imports = []
    for module in available:
        row: dict[str, Any] = {
            "module": module,
            "ms_above_python": round((best[module] - baseline) * 1000, 1),
        }
        if counted.get(module) and base_count:
            row["minstructions_above_python"] = round((counted[module] - base_count) / 1e6, 1)
        imports.append(row)
    help_ms = round(best["velocipy --help"] * 1000, 1)
    for row in imports:
        extra = (
            f" ({row['minstructions_above_python']:.0f}M instructions)"
            if "minstructions_above_python" in row
            else ""
        )
        log(f"  scale import {row['module']:<24} {row['ms_above_python']:>7.1f} ms{extra}")
    log(f"  scale velocipy --help {help_ms:.1f} ms wall")
    result: dict[str, Any] = {
        "python_startup_ms": round(baseline * 1000, 1),
        "imports": imports,
        "velocipy_help_ms": help_ms,
        **load.record(),
    }
    if counted.get("velocipy --help"):
        result["velocipy_help_minstructions"] = round(counted["velocipy --help"] / 1e6, 1)
    return result


def _importable(module: str) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        check=False,
        env=_environment(),
    )
    return result.returncode == 0


def idle_websockets(
    frameworks: list[str],
    servers: list[str],
    connections: int,
    cpus: tuple[str | None, str | None],
    log: Any = print,
    broadcasts: int = 3,
) -> list[dict[str, Any]]:
    limit = raise_descriptor_limit(connections + 1024)  # the servers inherit it
    if limit < connections + 64:
        log(f"  scale idle ws: the open-file limit is {limit}, below {connections} sockets")
    rows = []
    for server in servers:
        for framework in frameworks:
            if not serves(framework, server):
                continue
            try:
                with serving(framework, server, cpus[0]) as running:
                    row = {
                        "server": server,
                        "framework": framework,
                        **idle_memory(
                            running,
                            connections,
                            cpus[1],
                            path="/hub",
                            spread=True,
                            broadcasts=broadcasts,
                        ),
                    }
            except (ServerFailed, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
                log(f"  scale idle ws {server} {framework}: FAILED {str(exc).splitlines()[0]}")
                continue
            rows.append(row)
            log(
                f"  scale idle ws {server:<13} {framework:<14} "
                f"{row['kb_per_connection']:.1f} KiB per connection, broadcast to all "
                f"{row.get('broadcast_ms', float('nan')):.1f} ms"
            )
    return rows
