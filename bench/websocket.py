"""WebSocket: echo with 1 and 8 messages in flight per connection (and the idle-socket probe).

The load client (``ws_client.py``) runs in its own process on the client CPUs. Server CPU per
message comes from ``/proc``. When the client used (nearly) all of its CPU while the server did
not, the row says ``bottleneck: "client"``: messages/s then measure the client, and the server
CPU per message is the figure to compare.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from http_e2e import SATURATED, add_ratios
from machine import Load, cpu_seconds, pinned, rss_bytes
from servers import ServerFailed, serves, serving

CLIENT = Path(__file__).resolve().parent / "ws_client.py"
IN_FLIGHT = (1, 8)


def _client(port: int, mode: str, cpus: str | None, **options: Any) -> list[str]:
    argv = [sys.executable, str(CLIENT), mode, "--port", str(port)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return pinned(argv, cpus)


def measure_echo(
    server: Any, in_flight: int, connections: int, seconds: float, client_cpus: str | None
) -> dict[str, Any]:
    pids = server.pids()
    load = Load()
    argv = _client(
        server.port,
        "echo",
        client_cpus,
        connections=connections,
        in_flight=in_flight,
        seconds=seconds,
    )
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    # The client connects and warms up before its timed window; sample the server around it.
    time.sleep(0.05)
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    output, _ = client.communicate(timeout=seconds + 60)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before
    if client.returncode != 0:
        raise RuntimeError(f"WebSocket client failed ({client.returncode})")
    result = json.loads(output)
    messages = max(result["messages"], 1)
    server_share = cpu / elapsed
    client_share = result["client_cpu_seconds"] / result["seconds"]
    # The server CPU window is a little wider than the client's counting window (connect,
    # warm-up, close), so the per-message figure is a slight over-estimate for every framework.
    row = {
        "messages_per_s": result["messages"] / result["seconds"],
        "messages": result["messages"],
        "server_cpu_us_per_message": cpu / messages * 1e6,
        "server_cpu_share": round(server_share, 3),
        "client_cpu_share": round(client_share, 3),
        "saturated": server_share >= SATURATED,
        "bottleneck": "server"
        if server_share >= SATURATED
        else ("client" if client_share >= SATURATED else "neither"),
    }
    row.update(load.record())
    return row


def idle_memory(
    server: Any,
    connections: int,
    client_cpus: str | None,
    *,
    path: str = "/ws",
    spread: bool = False,
    broadcasts: int = 0,
) -> dict[str, Any]:
    """Server RSS growth per idle, accepted WebSocket connection; with ``broadcasts``, also
    the best time for the hub at ``path`` to send one message to every connection."""
    pids = server.pids()
    holder = subprocess.Popen(
        _client(server.port, "hold", client_cpus, connections=1, path=path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # one connection first, so lazily built per-process state is not counted
    assert holder.stdout is not None
    assert holder.stdin is not None
    holder.stdout.readline()
    time.sleep(0.2)
    before = rss_bytes(pids)
    argv = _client(server.port, "hold", client_cpus, connections=connections, path=path)
    many = subprocess.Popen(
        argv + (["--spread"] if spread else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert many.stdout is not None
    assert many.stdin is not None
    line = many.stdout.readline()
    time.sleep(0.3)
    after = rss_bytes(pids)
    times = []
    for _ in range(broadcasts if line else 0):
        many.stdin.write("broadcast\n")
        many.stdin.flush()
        reply = many.stdout.readline()
        if not reply:
            raise RuntimeError("the WebSocket client ended during a broadcast")
        times.append(json.loads(reply)["broadcast_ms"])
    for process in (many, holder):
        assert process.stdin is not None
        process.stdin.close()
        process.wait(60)
    opened = json.loads(line)["open"] if line else 0
    result: dict[str, Any] = {
        "connections": opened,
        "rss_before_mb": round(before / 2**20, 2),
        "rss_after_mb": round(after / 2**20, 2),
        "kb_per_connection": round((after - before) / max(opened, 1) / 1024, 2),
    }
    if times:
        result["broadcast_ms"] = min(times)  # one connection more (the holder) also gets it
    return result


def run(
    frameworks: list[str],
    servers: list[str],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    cpus: tuple[str | None, str | None],
    log: Any = print,
) -> list[dict[str, Any]]:
    server_cpus, client_cpus = cpus
    echo_rows: list[dict[str, Any]] = []
    for server in servers:
        runnable = [f for f in frameworks if serves(f, server)]
        for round_index in range(rounds):
            shift = round_index % len(runnable)
            for framework in runnable[shift:] + runnable[:shift]:
                try:
                    with serving(framework, server, server_cpus) as running:
                        for in_flight in IN_FLIGHT:
                            row = measure_echo(
                                running, in_flight, connections, seconds, client_cpus
                            )
                            echo_rows.append(
                                {
                                    "server": server,
                                    "round": round_index,
                                    "framework": framework,
                                    "in_flight": in_flight,
                                    "connections": connections,
                                    **row,
                                }
                            )
                            log(
                                f"  ws   {server:<13} r{round_index} {framework:<14} "
                                f"{in_flight} in flight {row['messages_per_s']:>9.0f} msg/s "
                                f"cpu {row['server_cpu_us_per_message']:.1f} us/msg "
                                f"(bottleneck: {row['bottleneck']})"
                            )
                except (ServerFailed, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
                    log(f"  ws   {server} {framework}: FAILED {str(exc).splitlines()[0]}")
                    echo_rows.append(
                        {
                            "server": server,
                            "round": round_index,
                            "framework": framework,
                            "error": str(exc)[:500],
                        }
                    )
    add_ratios(echo_rows, ("server", "round", "in_flight"), "messages_per_s")
    return echo_rows
