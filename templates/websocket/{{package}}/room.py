"""Who is in the chat, and how a message reaches all of them.

The roster lives in this process. That is all one server process needs; with several workers
or machines, move it to a shared channel (Redis pub/sub, a message bus) instead.
"""

import asyncio
import itertools
from typing import Any

from velocipy import WebSocket

MAX_NAME_LENGTH = 32


def clean_name(requested: str | None) -> str:
    """A display name: printable, trimmed to MAX_NAME_LENGTH characters (may come back empty)."""
    printable = "".join(char for char in requested or "" if char.isprintable())
    return printable.strip()[:MAX_NAME_LENGTH].strip()


class ChatRoom:
    """The open connections of one chat room, each with its member's display name."""

    def __init__(self) -> None:
        self.members: dict[WebSocket, str] = {}
        self._guest_numbers = itertools.count(1)

    @property
    def online(self) -> list[str]:
        """The names of everyone connected, in the order they joined."""
        return list(self.members.values())

    def join(self, ws: WebSocket, requested_name: str | None) -> str:
        """Add a connection; return its display name (`guest-N` when none was asked for)."""
        name = clean_name(requested_name) or f"guest-{next(self._guest_numbers)}"
        self.members[ws] = name
        return name

    def leave(self, ws: WebSocket) -> None:
        self.members.pop(ws, None)

    async def broadcast(self, event: dict[str, Any], *, exclude: WebSocket | None = None) -> None:
        """Send `event` as JSON to every member (but `exclude`), all at once.

        A member whose connection fails is dropped, so one dead peer never stops the others.
        """
        recipients = [ws for ws in self.members if ws is not exclude]
        results = await asyncio.gather(
            *(ws.send_json(event) for ws in recipients), return_exceptions=True
        )
        for ws, result in zip(recipients, results, strict=True):
            if isinstance(result, Exception):
                self.leave(ws)
