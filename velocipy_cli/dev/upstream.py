"""What the dev proxy's forwarders share: the worker behind it, and the rules of forwarding.

See :mod:`velocipy_cli.dev.proxy` for the whole story.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Protocol

WAIT_SECONDS = 30.0  # how long a request waits for a worker that is (re)starting
RESUME_DEADLINE_SECONDS = 60.0  # how long a WebSocket waits for a broken app to be fixed
RESUME_DEADLINE_VARIABLE = "VELOCIPY_PROXY_RESUME_SECONDS"  # overrides it (docs/dev-proxy.md)
RETRY_SECONDS = 0.2  # between two tries while the app answers 503 or refuses connections
# hold: before the old worker is stopped, the proxy waits until it answered every HTTP request it
# got, sent something on every socket since that socket's last message to it, and no WebSocket
# message went either way for DRAIN_QUIET_SECONDS (the worker has handled what it got and
# answered), DRAIN_MAX_SECONDS at most.
DRAIN_QUIET_SECONDS = 0.05
DRAIN_MAX_SECONDS = 0.5
READ_CHUNK = 65536
HEAD_POLL_SECONDS = 0.05  # a retryable request notices a restart this fast while it waits
RESUMED_HEADER = "X-VelociPy-Resumed"  # on a resumed upstream: how many times so far
CONNECTION_HEADER = "X-VelociPy-Connection"  # the same id on every upstream of one client
RETRYABLE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
# Headers that describe one hop or one WebSocket handshake: never forwarded as they are.
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)


class Upstream(Protocol):
    """The proxy as its forwarders see it: where the worker is, and whether one serves."""

    generation: int  # bumped when a restart begins: connections older than it are stale
    retired: int  # the newest generation being stopped: its unanswered GETs go to the next
    unanswered: int  # HTTP requests forwarded to the worker that serves whose answer has not begun
    awaiting_reply: set[object]  # bridges whose worker sent nothing since their last message
    last_activity: float  # monotonic time of the last message forwarded either way
    resume_deadline: float
    upstream: tuple[str, int]

    async def wait_for_worker(self) -> int: ...
    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


def resume_deadline_setting(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a resumed WebSocket waits for a broken app: $VELOCIPY_PROXY_RESUME_SECONDS."""
    try:
        value = float(environ.get(RESUME_DEADLINE_VARIABLE, RESUME_DEADLINE_SECONDS))
    except ValueError:
        return RESUME_DEADLINE_SECONDS
    return value if value > 0 else RESUME_DEADLINE_SECONDS


class AppUnavailable(Exception):
    """No worker came back in time; the message says what the client is told."""


class ResumeRefused(AppUnavailable):
    """The new code refused the resumed connection (a single-use ticket, a changed guard): the
    client is closed as a restart closes it (1012), so its reconnect logic starts afresh."""
