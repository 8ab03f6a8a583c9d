"""End-to-end HTTP: each framework behind granian RSGI, granian ASGI and uvicorn, driven by wrk.

The server is pinned to one CPU and wrk to the others. Rounds are interleaved (every framework
once per round, in a rotating order) and each figure is also given as a ratio to the bare app on
the same server in the same round, so slow drift of the machine cancels out. Server CPU per
request comes from ``/proc`` (load-independent); a run where the server used less than 90% of
its CPU is flagged ``saturated: false`` (the client or the machine was the limit, not the app).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from typing import Any

from machine import Load, cpu_seconds, pinned
from servers import ServerFailed, serves, serving

ENDPOINTS = {"plaintext": "/plaintext", "json": "/json", "path-param": "/users/42"}
SATURATED = 0.9  # share of one CPU the server must use for a run to count as saturated

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests per second, p99 latency (ms), request and error counts from ``wrk --latency``."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if not (rps and p99 and total):
        raise ValueError(f"cannot read wrk's output:\n{output}")
    return {
        "rps": float(rps.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def run_wrk(
    url: str,
    seconds: float,
    connections: int,
    cpus: str | None,
    threads: int = 1,
    script: str | None = None,
) -> dict[str, Any]:
    """wrk's figures for ``url``; ``script`` is a Lua file (a POST with a body and headers)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run .ci/provision (apt-get install wrk)")
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        *(["-s", script] if script else []),
        url,
    ]
    result = subprocess.run(pinned(argv, cpus), capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def measure_endpoint(
    server: Any,
    path: str,
    seconds: float,
    connections: int,
    client_cpus: str | None,
    script: str | None = None,
) -> dict[str, Any]:
    pids = server.pids()
    load = Load()
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    result = run_wrk(
        f"http://127.0.0.1:{server.port}{path}", seconds, connections, client_cpus, script=script
    )
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before
    result["server_cpu_us_per_request"] = cpu / max(result["requests"], 1) * 1e6
    result["server_cpu_share"] = cpu / elapsed
    result["saturated"] = cpu / elapsed >= SATURATED
    result.update(load.record())
    return result


def run(
    frameworks: list[str],
    servers: list[str],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    cpus: tuple[str | None, str | None],
    warmup: float,
    log: Any = print,
) -> list[dict[str, Any]]:
    """One row per (server, round, framework, endpoint), with ratios to bare in that round."""
    server_cpus, client_cpus = cpus
    rows: list[dict[str, Any]] = []
    for server in servers:
        runnable = [f for f in frameworks if serves(f, server)]
        for round_index in range(rounds):
            shift = round_index % len(runnable)
            order = runnable[shift:] + runnable[:shift]  # rotate: no framework always goes first
            for framework in order:
                try:
                    with serving(framework, server, server_cpus) as running:
                        if warmup:
                            run_wrk(
                                f"http://127.0.0.1:{running.port}/plaintext",
                                warmup,
                                connections,
                                client_cpus,
                            )
                        for endpoint, path in ENDPOINTS.items():
                            result = measure_endpoint(
                                running, path, seconds, connections, client_cpus
                            )
                            rows.append(
                                {
                                    "server": server,
                                    "round": round_index,
                                    "framework": framework,
                                    "endpoint": endpoint,
                                    **result,
                                }
                            )
                            log(
                                f"  http {server:<13} r{round_index} {framework:<14} "
                                f"{endpoint:<10} {result['rps']:>9.0f} req/s "
                                f"p99 {result['p99_ms']:.2f} ms "
                                f"cpu {result['server_cpu_us_per_request']:.1f} us/req"
                                + ("" if result["saturated"] else "  (not saturated)")
                            )
                except (ServerFailed, subprocess.CalledProcessError, ValueError) as exc:
                    log(f"  http {server} {framework}: FAILED {str(exc).splitlines()[0]}")
                    rows.append(
                        {
                            "server": server,
                            "round": round_index,
                            "framework": framework,
                            "error": str(exc)[:500],
                        }
                    )
    add_ratios(rows, ("server", "round", "endpoint"), "rps")
    return rows


def add_ratios(rows: list[dict[str, Any]], keys: tuple[str, ...], value: str) -> None:
    """``x_bare``: each row's ``value`` over the bare app's in the same group (same round)."""
    bare = {
        tuple(row[k] for k in keys): row[value]
        for row in rows
        if row.get("framework") == "bare" and value in row
    }
    for row in rows:
        if value not in row:
            continue
        reference = bare.get(tuple(row[k] for k in keys))
        row["x_bare"] = round(row[value] / reference, 4) if reference else None
