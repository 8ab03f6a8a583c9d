"""Fan-out through Channels: one publisher, N WebSocket subscribers, messages delivered per second.

Each scenario starts real processes on loopback: a redis-server (for the Redis backend, with
``--save '' --appendonly no``), a VelociPy server with W workers, and client processes holding the
subscribers. One publisher socket sends M messages; every subscriber must receive all M (each
subscriber's backlog is larger than M, so nobody is dropped). The figure is
``subscribers x messages / seconds`` from the first send to the last delivery.

The memory backend cannot cross workers, so it runs with one worker; Redis runs with one and two.
The machine's load average is recorded with each run: on a shared machine, read it with the rate.

    python bench/fanout.py                          # 1,000 subscribers, 200 messages, all scenarios
    python bench/fanout.py --subscribers 200 --messages 50 --json out.json --markdown out.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# --- the served app (imported by each server worker as "fanout:app") ------------------------
if os.environ.get("VELOCIPY_FANOUT_BACKEND"):
    from velocipy import VelociPy, WebSocket
    from velocipy.channels import Channels

    app = VelociPy()
    channels = Channels(os.environ["VELOCIPY_FANOUT_BACKEND"], app=app, backlog=100_000)

    @app.websocket("/subscribe")
    async def subscribe(ws: WebSocket) -> None:
        await ws.accept()
        await channels.join(ws, "fanout")
        await ws.send_text(f"ready {os.getpid()}")
        async for _ in ws.iter_text():
            pass

    @app.websocket("/publish")
    async def publish(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await channels.publish("fanout", text)


# --- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}")


@contextmanager
def process(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            argv,
            cwd=HERE,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            yield
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def server_argv(server: str, port: int, workers: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if server == "uvicorn":
        return [
            str(bin_dir / "uvicorn"),
            "fanout:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--ws-max-queue",
            "1000",
        ]
    interface = {"granian-rsgi": "rsgi", "granian-asgi": "asgi"}[server]
    return [
        str(bin_dir / "granian"),
        "fanout:app",
        "--interface",
        interface,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


# --- clients --------------------------------------------------------------------------------
def run_subscribers(url: str, count: int, messages: int, ready: Any, go: Any, out: Any) -> None:
    """A client process: ``count`` subscribers; reports worker pids, then the last arrival time."""
    import websockets

    async def main() -> None:
        sockets = []
        pids: dict[str, int] = {}
        for _ in range(count):
            ws = await websockets.connect(url, compression=None, max_size=None, open_timeout=60)
            pid = str(await ws.recv()).split()[1]
            pids[pid] = pids.get(pid, 0) + 1
            sockets.append(ws)
        ready.put(pids)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)

        async def drain(ws: Any) -> tuple[int, float]:
            got = 0
            last = 0.0
            while got < messages:
                await ws.recv()
                got += 1
            last = time.monotonic()
            return got, last

        results = await asyncio.gather(*(drain(ws) for ws in sockets))
        out.put({"delivered": sum(r[0] for r in results), "last": max(r[1] for r in results)})
        for ws in sockets:
            await ws.close()

    asyncio.run(main())


def measure(
    backend: str,
    server: str,
    workers: int,
    subscribers: int,
    messages: int,
    size: int,
    client_processes: int,
) -> dict[str, Any]:
    import websockets.sync.client

    port = free_port()
    env = {"VELOCIPY_FANOUT_BACKEND": backend}
    with process(server_argv(server, port, workers), port, env):
        context = multiprocessing.get_context("spawn")
        ready, out, go = context.Queue(), context.Queue(), context.Event()
        share = [subscribers // client_processes] * client_processes
        share[0] += subscribers - sum(share)
        clients = [
            context.Process(
                target=run_subscribers,
                args=(f"ws://127.0.0.1:{port}/subscribe", n, messages, ready, go, out),
            )
            for n in share
        ]
        for client in clients:
            client.start()
        per_worker: dict[str, int] = {}
        for _ in clients:
            for pid, n in ready.get(timeout=300).items():
                per_worker[pid] = per_worker.get(pid, 0) + n
        load_before = os.getloadavg()[0]
        payload = "x" * max(0, size - 8)
        with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/publish") as publisher:
            go.set()
            started = time.monotonic()
            for n in range(messages):
                publisher.send(f"{n:07d} {payload}")
            results = [out.get(timeout=600) for _ in clients]
        for client in clients:
            client.join(60)
    delivered = sum(r["delivered"] for r in results)
    seconds = max(r["last"] for r in results) - started
    return {
        "backend": "memory" if backend == "memory" else "redis",
        "server": server,
        "workers": workers,
        "subscribers": subscribers,
        "subscribers_per_worker": sorted(per_worker.values()),
        "messages": messages,
        "message_bytes": size,
        "delivered": delivered,
        "seconds": round(seconds, 3),
        "delivered_per_second": round(delivered / seconds),
        "load_average_1m": round(load_before, 2),
    }


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="fanout-redis-")
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
    ]
    with process(argv, port):
        yield f"redis://127.0.0.1:{port}/0"
    shutil.rmtree(workdir, ignore_errors=True)


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"Fan-out: {report['runs'][0]['subscribers']} WebSocket subscribers, one publisher "
        f"({machine['cpus']} CPUs, {machine['python']}, load average before each run shown).",
        "",
        "| backend | server | workers | subscribers per worker | messages | delivered/s "
        "| load (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['backend']} | {run['server']} | {run['workers']} | "
            f"{' + '.join(map(str, run['subscribers_per_worker']))} | {run['messages']} | "
            f"{run['delivered_per_second']:,} | {run['load_average_1m']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    parser.add_argument(
        "--server", default="uvicorn", choices=["uvicorn", "granian-rsgi", "granian-asgi"]
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown table here")
    args = parser.parse_args()

    runs = []
    common = (args.subscribers, args.messages, args.size, args.client_processes)
    runs.append(measure("memory", args.server, 1, *common))
    with redis_server() as url:
        runs.append(measure(url, args.server, 1, *common))
        runs.append(measure(url, args.server, 2, *common))
    report = {
        "benchmark": "fanout",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }
    table = markdown(report)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
