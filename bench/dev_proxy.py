"""What the reload-mode dev proxy of ``velocipy run`` costs per message (docs/dev-proxy.md).

Starts ``velocipy run`` twice on a temp echo app, with and without ``--no-proxy``, and times
sequential round trips (one message each way) with a websockets client. The proxy's cost per
message is half the difference of the median round trips.

    python bench/dev_proxy.py                   # 2,000 round trips per run, uvicorn
    python bench/dev_proxy.py --rsgi --messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

APP = """\
from velocipy import VelociPy, WebSocket

app = VelociPy()


@app.get("/")
async def index() -> str:
    return "up"


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def round_trips(port: int, count: int) -> list[float]:
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None) as ws:
        for _ in range(200):  # warm up
            await ws.send("x" * 64)
            await ws.recv()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await ws.send("x" * 64)
            await ws.recv()
            times.append(time.perf_counter() - started)
        return times


def measure(folder: Path, interface: str, count: int, *extra: str) -> list[float]:
    port = free_port()
    velocipy = shutil.which("velocipy") or str(Path(sys.executable).parent / "velocipy")
    argv = [velocipy, "run", interface, "--port", str(port), "--no-access-log", *extra]
    process = subprocess.Popen(
        argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        return asyncio.run(round_trips(port, count))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rsgi", action="store_true", help="granian RSGI instead of uvicorn")
    args = parser.parse_args()
    interface = "--rsgi" if args.rsgi else "--asgi"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "main.py").write_text(APP)
        direct = measure(Path(folder), interface, args.messages, "--no-proxy")
        proxied = measure(Path(folder), interface, args.messages)
    for name, times in (("direct", direct), ("proxied", proxied)):
        ordered = sorted(times)
        p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
        print(f"{name:8} round trip p50 {p50 * 1e3:.3f} ms  p99 {p99 * 1e3:.3f} ms")
    cost = (statistics.median(proxied) - statistics.median(direct)) / 2
    print(f"proxy cost per message (half the p50 difference): {cost * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
