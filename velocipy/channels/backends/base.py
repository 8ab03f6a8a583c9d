"""The interface every channel backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeAlias

from velocipy.channels.messages import Message
from velocipy.json import JSONAdapter

__all__ = ["ChannelBackend", "Deliver", "id_key"]

#: Called by a backend for every message that reaches this process, in arrival order.
Deliver: TypeAlias = Callable[[Message], None]


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


def id_key(message_id: str) -> tuple[int, ...]:
    """A sortable key for a history id (``"17"`` in memory, ``"1700000000000-3"`` on Redis)."""
    try:
        return tuple(int(part) for part in message_id.split("-", 1))
    except (ValueError, AttributeError):
        raise ValueError(
            f"{message_id!r} is not a message id: pass the id of the last message received"
        ) from None
