"""WebSocket server variants for the hardening suites: uvicorn with each of its WebSocket
implementations, and granian on both interfaces."""

from __future__ import annotations

from tests.support import server_argv

WS_SERVERS = ("uvicorn", "uvicorn-wsproto", "granian-rsgi", "granian-asgi")


def ws_server_argv(kind: str, target: str, port: int, ws_max_size: int | None = None) -> list[str]:
    """The command line for ``kind``; ``ws_max_size`` is uvicorn's ``--ws-max-size``."""
    argv = server_argv("uvicorn" if kind.startswith("uvicorn") else kind, target, port)
    if kind == "uvicorn-wsproto":
        argv += ["--ws", "wsproto"]
    if kind.startswith("uvicorn") and ws_max_size is not None:
        argv += ["--ws-max-size", str(ws_max_size)]
    return argv
