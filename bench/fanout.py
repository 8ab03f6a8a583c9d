"""Fan-out: one publisher, N WebSocket subscribers in a room, against the real-time peers.

Each scenario starts real processes on loopback: a redis-server (for Redis, ``--save ''
--appendonly no``), the app (``fanout_apps.py``) on a server with W workers, and client
processes holding the subscribers (client addresses spread over 127.0.0.0/8, open-file limits
raised). One publisher socket sends M messages, each carrying its send time; every subscriber
must receive all M, in order (each app's backlog is larger than M, so nobody is dropped).

Two modes: a *burst* (M messages sent at once) and *paced* (one message every ``--pace``
seconds, ``--paced-messages`` of them: the cost a live app pays per message). Figures:
deliveries per second, the server's CPU per delivery (all its workers, from ``/proc``; Redis's
own CPU is not counted) and its inverse, deliveries per server CPU-second, and p50/p99 delivery
latency (publisher send to subscriber receipt). Two apps without a framework (memory, one
worker) mark what no hub can go below on that server: *bare* writes each frame to every socket
in turn (the floor for a paced message), *floor* gives each socket a queue and a sending task
that writes its frames one after the other (the floor for a burst). ``--slow`` adds one
subscriber that reads nothing: the row says whether the others still got everything and what
became of it (with ``--size 65536``, so the burst is larger than the kernel's socket buffers
and the slow socket pushes back).

    python bench/fanout.py                            # 1,000 subscribers, 200 messages
    python bench/fanout.py --subscribers 1000,10000 --servers uvicorn granian-rsgi --slow
    python bench/fanout.py --apps bare velocipy --subscribers 20 --messages 5 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fanout_apps import FACTORIES, MEMORY_ONLY, PACKAGES, RSGI_APPS  # noqa: E402
from machine import cpu_seconds, process_tree  # noqa: E402
from ws_client import raise_descriptor_limit, spread_address  # noqa: E402

APPS = tuple(FACTORIES)
SERVERS = ("uvicorn", "granian-asgi", "granian-rsgi")


def available(app: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in PACKAGES[app])


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


@contextlib.contextmanager
def process(
    argv: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
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
            try:
                wait_for_port(port)
            except RuntimeError:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace")[-1500:]) from None
            yield proc
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
            "fanout_apps:app",
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
        "fanout_apps:app",
        "--interface",
        interface,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


# --- the wire: plain WebSocket text, or Socket.IO (Engine.IO 4) over a WebSocket ---------------
def socket_path(app: str, role: str) -> str:
    if app == "socketio":
        return "/socket.io/?EIO=4&transport=websocket"
    return f"/{role}"


def socketio_text(frame: str) -> str | None:
    """The text of a Socket.IO event frame (``42["msg","..."]``), else None."""
    if frame.startswith("42"):
        event = json.loads(frame[2:])
        return str(event[1])
    return None


async def open_socket(
    url: str, app: str, role: str, local: str | None, slow: bool = False
) -> tuple[Any, str]:
    """A connected subscriber; its first text (``ready <pid>``). A slow one keeps at most one
    message in its client's queue, so the client stops reading its socket and TCP pushes back
    on the server (a fast one queues without limit: it never pushes back)."""
    import websockets

    ws = await websockets.connect(
        url,
        compression=None,
        max_size=None,
        open_timeout=120,
        ping_interval=None,
        max_queue=1 if slow else None,
        **({"local_addr": (local, 0)} if local else {}),
    )
    if app == "socketio":
        await ws.recv()  # the Engine.IO open packet
        await ws.send("40")
        while True:
            text = socketio_text(str(await ws.recv()))
            if text is not None:
                return ws, text
    return ws, str(await ws.recv())


# --- clients --------------------------------------------------------------------------------
def run_subscribers(
    url: str, app: str, first: int, count: int, messages: int, slow: bool, queues: Any
) -> None:
    """A client process: ``count`` subscribers; reports worker pids, then what arrived."""
    import asyncio

    ready, go, out = queues

    async def main() -> None:
        raise_descriptor_limit(count + 64)
        sockets = []
        pids: dict[str, int] = {}
        for index in range(first, first + count):
            local = spread_address(index)
            ws, hello = await open_socket(url, app, "subscribe", local, slow)
            pid = hello.split()[1]
            pids[pid] = pids.get(pid, 0) + 1
            sockets.append(ws)
        ready.put(pids)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        if slow:  # holds its socket and reads nothing until the others are done
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            out.put({"slow": True, **await read_slow(sockets[0])})
            return

        async def drain(ws: Any) -> tuple[int, bool, list[float]]:
            latencies, expected, in_order = [], 0, True
            while expected < messages:
                frame = str(await ws.recv())
                arrived = time.monotonic_ns()
                text = socketio_text(frame) if app == "socketio" else frame
                if text is None:
                    if frame == "2":  # Engine.IO ping
                        await ws.send("3")
                    continue
                number, sent = text.split(" ", 2)[:2]
                in_order = in_order and int(number) == expected
                expected += 1
                latencies.append((arrived - int(sent)) / 1e6)
            return expected, in_order, latencies

        results = await asyncio.gather(*(drain(ws) for ws in sockets))
        out.put(
            {
                "delivered": sum(r[0] for r in results),
                "in_order": all(r[1] for r in results),
                "last": time.monotonic(),
                "latencies_ms": [x for r in results for x in r[2]],
            }
        )
        for ws in sockets:
            await ws.close()

    async def read_slow(ws: Any) -> dict[str, Any]:
        got = 0
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 2)
                got += 1
        except TimeoutError:
            return {"received": got, "closed_by_server": False}
        except Exception:  # the server closed it
            return {"received": got, "closed_by_server": True}

    asyncio.run(main())


class Publisher:
    """The publisher's socket (synchronous client), Socket.IO framing where needed."""

    def __init__(self, url: str, app: str) -> None:
        import websockets.sync.client

        self.app = app
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(websockets.sync.client.connect(url, compression=None))
        if app == "socketio":
            self.ws.recv()
            self.ws.send('40{"role":"publisher"}')
            self.ws.recv()  # 40{"sid": ...}

    def send(self, text: str) -> None:
        if self.app == "socketio":
            self.ws.send("42" + json.dumps(["publish", text]))
        else:
            self.ws.send(text)

    def close(self) -> None:
        self.stack.close()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


def measure(
    app: str,
    backend: str,
    server: str,
    workers: int,
    subscribers: int,
    messages: int,
    *,
    size: int = 64,
    pace: float = 0.0,
    client_processes: int = 2,
    slow: bool = False,
) -> dict[str, Any]:
    port = free_port()
    env = {
        "FANOUT_APP": app,
        "FANOUT_BACKEND": backend,
        "FANOUT_INTERFACE": "rsgi" if server == "granian-rsgi" else "asgi",
        "PYTHONPATH": str(HERE),
    }
    raise_descriptor_limit(subscribers + 1024)  # the server inherits it
    with process(server_argv(server, port, workers), port, env) as proc:
        context = multiprocessing.get_context("spawn")
        queues = (context.Queue(), context.Event(), context.Queue())
        share = [subscribers // client_processes] * client_processes
        share[0] += subscribers - sum(share)
        url = f"ws://127.0.0.1:{port}{socket_path(app, 'subscribe')}"
        starts = [sum(share[:i]) for i in range(len(share))]
        clients = [
            context.Process(target=run_subscribers, args=(url, app, s, n, messages, False, queues))
            for s, n in zip(starts, share, strict=True)
            if n
        ]
        if slow:
            clients.append(
                context.Process(
                    target=run_subscribers,
                    args=(url, app, subscribers + 1, 1, messages, True, queues),
                )
            )
        for client in clients:
            client.start()
        per_worker: dict[str, int] = {}
        for _ in clients:
            for pid, n in queues[0].get(timeout=600).items():
                per_worker[pid] = per_worker.get(pid, 0) + n
        load_before = os.getloadavg()[0]
        padding = "x" * max(0, size - 30)
        publisher = Publisher(f"ws://127.0.0.1:{port}{socket_path(app, 'publish')}", app)
        pids = process_tree(proc.pid)
        cpu_before = cpu_seconds(pids)
        queues[1].set()
        started = time.monotonic()
        for n in range(messages):
            publisher.send(f"{n:07d} {time.monotonic_ns()} {padding}")
            if pace:
                time.sleep(pace)
        results = [queues[2].get(timeout=900) for _ in range(len(clients) - slow)]
        cpu = cpu_seconds(pids) - cpu_before
        slow_result = queues[2].get(timeout=120) if slow else None
        publisher.close()
        for client in clients:
            client.join(60)
    delivered = sum(r["delivered"] for r in results)
    seconds = max(r["last"] for r in results) - started
    latencies = [x for r in results for x in r["latencies_ms"]]
    row: dict[str, Any] = {
        "app": app,
        "backend": "memory" if backend == "memory" else "redis",
        "server": server,
        "workers": workers,
        "mode": "paced" if pace else "burst",
        "pace_s": pace,
        "subscribers": subscribers,
        "subscribers_per_worker": sorted(per_worker.values()),
        "messages": messages,
        "message_bytes": size,
        "delivered": delivered,
        "expected": subscribers * messages,
        "in_order": all(r["in_order"] for r in results) and delivered == subscribers * messages,
        "seconds": round(seconds, 3),
        "delivered_per_second": round(delivered / seconds),
        "server_cpu_us_per_delivery": round(cpu / max(delivered, 1) * 1e6, 3),
        "deliveries_per_cpu_second": round(delivered / cpu) if cpu > 0 else None,
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "load_average_1m": round(load_before, 2),
    }
    if slow_result is not None:
        row["slow_subscriber"] = {k: v for k, v in slow_result.items() if k != "slow"}
    return row


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="fanout-redis-")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", workdir, "--maxclients", "100000"]
    with process(argv, port):
        yield f"redis://127.0.0.1:{port}/0"
    shutil.rmtree(workdir, ignore_errors=True)


def scenarios(apps: list[str], servers: list[str]) -> list[tuple[str, str, str, int]]:
    """(app, backend, server, workers): memory with one worker, Redis with one and two; the
    floors (bare, floor) on memory only; RSGI only for the apps that speak it."""
    found = []
    for server in servers:
        for app in apps:
            if server == "granian-rsgi" and app not in RSGI_APPS:
                continue
            found.append((app, "memory", server, 1))
            if app not in MEMORY_ONLY:
                found += [(app, "redis", server, 1), (app, "redis", server, 2)]
    return found


def run(
    apps: list[str],
    servers: list[str],
    subscriber_counts: list[int],
    messages: int,
    *,
    size: int = 64,
    pace: float = 0.5,
    paced_messages: int = 20,
    client_processes: int = 2,
    slow: bool = False,
    rounds: int = 1,
    log: Any = print,
) -> list[dict[str, Any]]:
    """Every scenario in both modes, ``rounds`` times: each round runs them all in turn, so a
    busy moment of the machine falls on one round of each app, not on every round of one."""
    rows: list[dict[str, Any]] = []
    with redis_server() as url:
        for subscribers in subscriber_counts:
            for round_, (app, backend, server, workers), mode_pace in itertools.product(
                range(rounds), scenarios(apps, servers), (0.0, pace)
            ):
                where = {
                    "app": app,
                    "backend": backend,
                    "server": server,
                    "workers": workers,
                    "subscribers": subscribers,
                    "mode": "paced" if mode_pace else "burst",
                }
                try:
                    row = measure(
                        app,
                        url if backend == "redis" else "memory",
                        server,
                        workers,
                        subscribers,
                        min(messages, paced_messages) if mode_pace else messages,
                        size=size,
                        pace=mode_pace,
                        client_processes=client_processes,
                        slow=slow and not mode_pace,
                    )
                except Exception as exc:  # a peer that fails is reported, the rest go on
                    log(f"  fanout {app} {backend} {server} x{workers}: FAILED {exc!r:.300}")
                    rows.append({**where, "round": round_, "error": repr(exc)[:500]})
                    continue
                rows.append({**row, "round": round_})
                log(
                    f"  fanout {app:<15} {backend:<6} {server:<12} x{workers}"
                    f" {subscribers:>6} subs {row['mode']:<5}"
                    f" {row['server_cpu_us_per_delivery']:>7.2f} us/delivery"
                    f" p50 {row['latency_p50_ms']} p99 {row['latency_p99_ms']} ms"
                    + ("" if row["in_order"] else "  NOT ALL DELIVERED IN ORDER")
                )
    return rows


SCENARIO = ("subscribers", "app", "backend", "server", "workers", "mode")


def cells(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per scenario from its rounds, in the order they first ran.

    The row is the round with the median server CPU per delivery (the lower of the two middle
    ones for an even count), so its other figures come from one real run; ``rounds`` counts the
    rounds that finished, ``cpu_range`` is the lowest and the highest round's CPU per delivery, and
    ``delivered``, ``expected`` and ``in_order`` cover every round. A scenario whose every
    round failed is its first error row; ``failed_rounds`` counts the ones that failed.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in SCENARIO), []).append(run)
    summary = []
    for tried in groups.values():
        done = sorted(
            (r for r in tried if "error" not in r), key=lambda r: r["server_cpu_us_per_delivery"]
        )
        failed = len(tried) - len(done)
        if not done:
            summary.append({**tried[0], "failed_rounds": failed})
            continue
        cpus = [r["server_cpu_us_per_delivery"] for r in done]
        summary.append(
            {
                **done[(len(done) - 1) // 2],
                "rounds": len(done),
                "failed_rounds": failed,
                "cpu_range": (cpus[0], cpus[-1]),
                "delivered": sum(r["delivered"] for r in done),
                "expected": sum(r["expected"] for r in done),
                "in_order": all(r["in_order"] for r in done),
            }
        )
    return summary


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    rounds = max((r.get("round", 0) + 1 for r in report["runs"]), default=1)
    of_rounds = (
        ""
        if rounds == 1
        else f" Each row is the median of {rounds} rounds by CPU per delivery, with the lowest "
        "and the highest round's CPU beside it; the delivery count covers every round."
    )
    lines = [
        f"Fan-out: one publisher, {report['messages']} messages to every subscriber in a burst, "
        f"{min(report['messages'], report['paced_messages'])} paced one per {report['pace_s']} s "
        f"({machine['cpus']} CPUs, Python {machine['python']}; load average before each run "
        "shown). CPU is the server's (all workers), per delivery; Redis's own CPU is not "
        f"counted.{of_rounds}",
        "",
        "| subscribers | app | backend | server | workers | mode | delivered in order "
        "| deliveries/s | server CPU us/delivery | deliveries per CPU-s | p50 / p99 ms "
        "| slow subscriber | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in cells(report["runs"]):
        if "error" in run:
            lines.append(
                f"| {run['subscribers']} | {run['app']} | {run['backend']} | {run['server']} | "
                f"{run['workers']} | {run['mode']} | failed: {run['error'][:60]} "
                "| - | - | - | - | - | - |"
            )
            continue
        slow = run.get("slow_subscriber")
        slow_text = (
            "-"
            if slow is None
            else f"got {slow['received']}, "
            + ("closed by the server" if slow["closed_by_server"] else "kept open")
        )
        cpu = f"{run['server_cpu_us_per_delivery']:.2f}"
        if run["rounds"] > 1:
            cpu += " ({:.2f}-{:.2f})".format(*run["cpu_range"])
        if run["failed_rounds"]:
            cpu += f", {run['failed_rounds']} round(s) failed"
        lines.append(
            f"| {run['subscribers']} | {run['app']} | {run['backend']} | {run['server']} | "
            f"{run['workers']} ({' + '.join(map(str, run['subscribers_per_worker']))}) | "
            f"{run['mode']} | {'yes' if run['in_order'] else '**no**'} "
            f"({run['delivered']:,}/{run['expected']:,}) | {run['delivered_per_second']:,} | "
            f"{cpu} | {run['deliveries_per_cpu_second'] or '-'}"
            f" | {run['latency_p50_ms']} / {run['latency_p99_ms']} | {slow_text} | "
            f"{run['load_average_1m']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default="1000", help="comma-separated counts")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between paced messages")
    parser.add_argument("--paced-messages", type=int, default=20, help="messages sent paced")
    parser.add_argument("--servers", nargs="*", choices=SERVERS, default=["uvicorn"])
    parser.add_argument("--apps", nargs="*", choices=APPS, default=list(APPS))
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="times each scenario runs")
    parser.add_argument("--slow", action="store_true", help="add a subscriber that never reads")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown table here")
    args = parser.parse_args()

    apps = []
    for app in args.apps:
        if available(app):
            apps.append(app)
        else:
            print(f"  fanout {app}: skipped, not installed (pip install -e '.[bench]')")
    runs = run(
        apps,
        args.servers,
        [int(n) for n in str(args.subscribers).split(",")],
        args.messages,
        size=args.size,
        pace=args.pace,
        paced_messages=args.paced_messages,
        client_processes=args.client_processes,
        slow=args.slow,
        rounds=args.rounds,
        log=lambda line: print(line, flush=True),
    )
    report = {
        "benchmark": "fanout",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "messages": args.messages,
        "paced_messages": args.paced_messages,
        "pace_s": args.pace,
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
