"""The interface every channel backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from velocipy.channels.messages import Message
from velocipy.exceptions import HTTPException, WebSocketException
from velocipy.json import JSONAdapter

__all__ = ["ChannelBackend", "Deliver", "InvalidMessageId", "id_key"]

#: Called by a backend for every message that reaches this process, in arrival order. When a
#: subscriber's backlog was full it returns an awaitable: the backend awaits it before it
#: delivers more (the subscriber gets its chance to run; see channels/subscribers.py).
Deliver: TypeAlias = Callable[[Message], Awaitable[None] | None]

_ID_PART_LIMIT = 2**64 - 1  # Redis stream ids are two unsigned 64-bit numbers
_DIGITS = frozenset("0123456789")


class ChannelBackend(ABC):
    """Moves messages between processes; :class:`~velocipy.channels.Channels` fans them out."""

    #: How many past messages each channel keeps for catch-up (0: no history, ids are None).
    history: int = 0

    @abstractmethod
    async def start(self, deliver: Deliver, json: JSONAdapter) -> None:
        """Connect; from now on call ``deliver`` for each message on a subscribed channel."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect and stop delivering."""

    @abstractmethod
    async def publish(self, message: Message) -> bool:
        """Hand ``message`` to the broker; False when it could not (it is then lost)."""

    @abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Start receiving ``channel`` in this process (the first local subscriber came)."""

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel`` in this process (the last local subscriber left)."""

    @abstractmethod
    async def history_after(self, channel: str, last_id: str) -> list[Message]:
        """The kept messages of ``channel`` that came after ``last_id``, oldest first."""

    @property
    def connected(self) -> bool:
        """False while the broker is unreachable (always True in memory)."""
        return True


class InvalidMessageId(WebSocketException, HTTPException, ValueError):
    """A catch-up id that is not a message id (usually a client's ``?after=`` or
    ``Last-Event-ID``): one exception that each context answers on its own terms.

    A ``ValueError`` for code that subscribes; raised in a WebSocket handler (by ``join``) it
    closes the connection with 1008 and its one-line reason, in an HTTP handler it is a 400 with
    that reason; neither logs a traceback.
    """

    def __init__(self, message_id: object) -> None:
        shown = repr(message_id)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        reason = f"{shown} is not a message id: send the id of the last message"
        Exception.__init__(self, reason)
        self.code, self.reason = 1008, reason  # as a WebSocketException
        self.status_code, self.detail, self.headers = 400, reason, None  # as an HTTPException

    def __repr__(self) -> str:
        return f"InvalidMessageId({self.reason!r})"


def id_key(message_id: str) -> tuple[int, ...]:
    """A sortable key for a history id: ``"17"`` in memory, ``"1700000000000-3"`` on Redis.

    Strict: ASCII digits only (no sign, space or ``_`` that ``int()`` would take), one or two
    parts, each at most 2**64 - 1 as Redis requires; anything else raises
    :class:`InvalidMessageId`.
    """
    if not isinstance(message_id, str) or len(message_id) > 41:
        raise InvalidMessageId(message_id)
    parts = message_id.split("-")
    if len(parts) > 2 or not all(part and _DIGITS.issuperset(part) for part in parts):
        raise InvalidMessageId(message_id)
    key = tuple(int(part) for part in parts)
    if any(number > _ID_PART_LIMIT for number in key):
        raise InvalidMessageId(message_id)
    return key
