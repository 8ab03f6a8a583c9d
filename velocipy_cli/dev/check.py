"""`velocipy run --check`: what the chosen server supports, probed live, next to the app's routes.

The server (uvicorn, granian RSGI or granian ASGI, as `velocipy run` would choose) serves
:mod:`velocipy_cli.dev.check_app` on a free loopback port; real clients then try each feature:
subprotocol negotiation, close codes and reasons, per-message deflate, a 413 sent before the
body, and backpressure on a streaming response nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from velocipy_cli.dev.check_app import CHUNK, CHUNKS
from velocipy_cli.discovery import AppLocation, load_app

PROBE_APP = "velocipy_cli.dev.check_app:app"
START_SECONDS = 20.0
BACKPRESSURE_SECONDS = 10.0  # at most, waiting for a stalled producer to show it


@dataclass(frozen=True)
class Finding:
    feature: str
    supported: bool
    detail: str
    relied_on_by: str = ""  # the app's routes that rely on it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_argv(server: str, interface: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            PROBE_APP,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    return [
        sys.executable,
        "-m",
        "granian",
        PROBE_APP,
        "--interface",
        interface,
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def probe_server(server: str, interface: str) -> Any:
    port = free_port()
    process = subprocess.Popen(
        server_argv(server, interface, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None:
                raise RuntimeError(f"{server} exited with code {process.returncode}")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{server} did not listen within {START_SECONDS:g} s")
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


async def probe_features(port: int) -> list[Finding]:
    base = f"ws://127.0.0.1:{port}"
    findings = []
    offered = [Subprotocol("velocipy.check.a"), Subprotocol("velocipy.check.b")]
    async with connect(f"{base}/subprotocols", subprotocols=offered) as ws:
        chosen = ws.subprotocol
    findings.append(
        Finding(
            "subprotocols",
            chosen == "velocipy.check.b",
            f"the app chose velocipy.check.b; the client got {chosen or 'none'}",
        )
    )
    async with connect(f"{base}/close") as ws:
        try:
            await ws.recv()
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
    code = rcvd.code if rcvd else 1006
    reason = rcvd.reason if rcvd else ""
    findings.append(
        Finding(
            "close codes and reasons",
            (code, reason) == (4321, "checked reason"),
            f"the app closed with 4321 'checked reason'; the client got {code} {reason!r}",
        )
    )
    async with connect(f"{base}/echo", compression="deflate") as ws:
        assert ws.response is not None
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
    findings.append(
        Finding(
            "per-message deflate",
            "permessage-deflate" in extensions,
            f"offered; the server answered {extensions or 'no extension'}",
        )
    )
    findings.append(await _early_413(port))
    findings.append(await _backpressure(port))
    return findings


async def _early_413(port: int) -> Finding:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /upload HTTP/1.1\r\nHost: check\r\nContent-Length: 104857600\r\n\r\n")
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 3)
    except TimeoutError:
        status_line = b""
    writer.close()
    got = status_line.decode(errors="replace").strip() or "nothing within 3 s"
    return Finding(
        "early 413",
        status_line.startswith(b"HTTP/1.1 413"),
        f"100 MiB declared, no body sent: the server answered {got}",
    )


async def _backpressure(port: int) -> Finding:
    """A client that reads nothing: with backpressure the producer stalls well short of 64 MiB."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, limit=CHUNK)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: check\r\n\r\n")
    await writer.drain()
    produced, deadline = -1, time.monotonic() + BACKPRESSURE_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now = int(await _get(port, "/produced") or 0)
        if now == produced or now >= CHUNKS:  # stalled, or all of it went out
            break
        produced = now
    produced = max(produced, now)
    writer.close()
    mib = produced * CHUNK // (1024 * 1024)
    return Finding(
        "stream backpressure",
        produced < CHUNKS,
        f"a client reading nothing: the app produced {mib} MiB of {CHUNKS * CHUNK >> 20}",
    )


async def _get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.split(b"\r\n\r\n", 1)[-1].decode().strip().strip('"')


def relied_on_by(app: Any) -> dict[str, str]:
    """Which of the app's routes rely on each feature (from what the routes declare)."""
    sockets = [route for route in getattr(app, "routes", []) if route.kind == "websocket"]
    typed = [route.path for route in sockets if (route.options or {}).get("receives") is not None]
    paths = ", ".join(route.path for route in sockets)
    limit = getattr(app, "max_body_size", None)
    return {
        "close codes and reasons": paths
        and f"every WebSocket route: {paths}"
        + (f"; 1007 with a reason for invalid messages on {', '.join(typed)}" if typed else ""),
        "subprotocols": paths
        and f"WebSocket routes that choose one with accept(subprotocol=...): {paths}",
        "early 413": f"every route that reads a body (max_body_size {limit} bytes)"
        if limit
        else "",
        "stream backpressure": "StreamingResponse and server-sent events routes",
        "per-message deflate": paths and f"large messages on {paths}",
    }


def run_check(server: str, interface: str, app: Any | None) -> list[Finding]:
    """Start the server on the probe app, try every feature, and note who relies on each."""
    with probe_server(server, interface) as port:
        findings = asyncio.run(probe_features(port))
    notes = relied_on_by(app) if app is not None else {}
    return [Finding(f.feature, f.supported, f.detail, notes.get(f.feature, "")) for f in findings]


def print_check(server: str, interface: str, location: AppLocation) -> int:
    """`velocipy run --check`: print the findings; 0 when the probe ran (whatever it found)."""
    from rich.markup import escape

    from velocipy_cli.console import console, err_console

    app: Any | None = None
    try:
        app = load_app(location).app
    except BaseException as exc:  # the user's module may raise anything
        err_console.print(
            f"[yellow]the app could not be imported ({escape(type(exc).__name__)}: "
            f"{escape(str(exc))}); showing the server alone[/]",
            soft_wrap=True,
        )
    label = f"{server} ({interface.upper()})"
    console.print(f"[bold]What {label} supports[/] (probed live on 127.0.0.1)", soft_wrap=True)
    try:
        findings = run_check(server, interface, app)
    except (RuntimeError, OSError) as exc:
        err_console.print(f"[red]error:[/] the probe could not run: {escape(str(exc))}")
        return 1
    for finding in findings:
        mark = "[green]yes[/]" if finding.supported else "[red]no [/]"
        console.print(
            f"  {mark} [bold]{finding.feature}[/]: {escape(finding.detail)}", soft_wrap=True
        )
        if finding.relied_on_by:
            console.print(f"      [dim]your app: {escape(finding.relied_on_by)}[/]", soft_wrap=True)
    return 0
