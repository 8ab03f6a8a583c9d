"""Instructions per fan-out delivery inside a real uvicorn worker, counted by valgrind
(load-independent): what the fan-out tier's CPU figures are made of, without the noise.

The apps of ``fanout_apps.py`` (memory backend) are served by one uvicorn worker under
``valgrind --tool=callgrind``. ``subscribers`` WebSockets join the room and the publisher sends
``messages`` messages: ``burst``, all at once; ``paced``, each once every subscriber got the one
before. The worker's live counters are read around that (after a warm-up of the same kind) and
divided by the deliveries: what one delivery costs the server, with the kernel's share left out
(valgrind counts the process's own instructions; writing to a socket costs about as much again
in the kernel, the same for every app).

    python bench/fanout_instructions.py --apps bare floor velocipy litestar
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout
from server_instructions import running_counters, under_valgrind
from servers import BENCH_DIR, free_port

MODES = ("paced", "burst")
_WARM_UP = 4  # messages of the same kind before counting
_PAUSE = 0.05  # seconds between paced messages: past the hub's linger (5 ms)


def per_delivery(app: str, mode: str, subscribers: int, messages: int) -> int:
    """Instructions the worker spends per delivery of ``messages`` to ``subscribers``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    port = free_port()
    argv = fanout.server_argv("uvicorn", port, workers=1)  # as the fan-out tier runs it
    env = {"FANOUT_APP": app, "FANOUT_BACKEND": "memory", "PYTHONPATH": str(BENCH_DIR)}
    with under_valgrind(argv, env) as (process, log):
        url = f"ws://127.0.0.1:{port}"
        if not asyncio.run(_started(process, url)):
            raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
        before, after = asyncio.run(_counted(process, url, mode, subscribers, messages))
    if before == 0:
        raise RuntimeError("callgrind_control read no counters (is valgrind's vgdb available?)")
    return round((after - before) / (messages * subscribers))


async def _started(process: subprocess.Popen[bytes], url: str) -> bool:
    """True once ``/publish`` takes a WebSocket; False if the server exits or takes 5 min."""
    import websockets

    for _ in range(600):  # valgrind starts Python slowly
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError, websockets.InvalidHandshake):
            async with websockets.connect(url + "/publish", compression=None):
                return True
        await asyncio.sleep(0.5)
    return False


async def _counted(
    process: subprocess.Popen[bytes], url: str, mode: str, subscribers: int, messages: int
) -> tuple[int, int]:
    """The worker's counters before and after ``messages`` reach every subscriber."""
    import websockets

    sockets = []
    for _ in range(subscribers):
        socket = await websockets.connect(url + "/subscribe", compression=None, max_queue=None)
        await socket.recv()  # "ready <pid>": joined
        sockets.append(socket)
    publisher = await websockets.connect(url + "/publish", compression=None)

    async def everyone_gets(numbers: range) -> None:
        await asyncio.gather(*(_receive(socket, numbers) for socket in sockets))

    async def deliver(numbers: range) -> None:
        for number in numbers:
            await publisher.send(f"{number:07d} {'x' * 56}")
            if mode == "paced":  # every subscriber has it before the next is sent
                await everyone_gets(range(number, number + 1))
                await asyncio.sleep(_PAUSE)
        if mode == "burst":
            await everyone_gets(numbers)

    try:
        await deliver(range(_WARM_UP))
        before = running_counters(process.pid)
        await deliver(range(_WARM_UP, _WARM_UP + messages))
        return before, running_counters(process.pid)
    finally:
        for socket in [*sockets, publisher]:
            await socket.close()


async def _receive(socket: Any, numbers: range) -> None:
    """The messages numbered ``numbers``, in order, or RuntimeError."""
    for number in numbers:
        got = str(await socket.recv())
        if not got.startswith(f"{number:07d} "):
            raise RuntimeError(f"expected message {number}, got {got[:20]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", nargs="*", default=["bare", "floor", "velocipy", "litestar"])
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    for mode in args.modes:
        for app in args.apps:
            count = per_delivery(app, mode, args.subscribers, args.messages)
            print(f"uvicorn {mode:<6} {app:<10} {count:>9,} instructions per delivery")


if __name__ == "__main__":
    main()
