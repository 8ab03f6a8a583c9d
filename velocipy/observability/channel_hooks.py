"""Where the instruments watch a Channels hub: its publish, its fan-out, its subscribers' drops.

Each hook is set on one hub object when an instrument is told about it (``trace_channels``,
``watch_channels``), so a hub nobody watches, and every other hub, runs unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velocipy.channels import Channels
    from velocipy.channels.messages import Message
    from velocipy.channels.subscribers import Subscriber

__all__ = ["count_drops", "queued_messages", "wrap_deliver", "wrap_publish"]

Publish = Callable[..., Any]
# what to await before the next delivery, when a subscriber's backlog was full
Deliver = Callable[["Message"], Awaitable[None] | None]


def wrap_publish(hub: Channels, wrap: Callable[[Publish], Publish]) -> None:
    """``hub.publish`` becomes ``wrap(hub.publish)`` (memberships publish through it too)."""
    hub.publish = wrap(hub.publish)  # type: ignore[method-assign]


def wrap_deliver(hub: Channels, wrap: Callable[[Deliver], Deliver]) -> None:
    """The fan-out of each message the backend hands over; before the hub starts (the backend
    keeps the function it was started with)."""
    _require_not_started(hub)
    hub._deliver = wrap(hub._deliver)  # type: ignore[method-assign,assignment]


def count_drops(hub: Channels, dropped: Callable[[], None]) -> None:
    """Call ``dropped()`` for every message a subscriber of ``hub`` loses by falling behind
    (``drop_oldest``) and for every subscriber dropped for it (``close``)."""
    _require_not_started(hub)
    from velocipy.channels.subscribers import Subscriber

    class CountingSubscriber(Subscriber):
        __slots__ = ()

        def put(self, message: Message) -> bool:
            lost, ended = self.lost, self._ended
            owed_a_turn = super().put(message)
            if self.lost != lost or (ended is None and self._ended is not None):
                dropped()
            return owed_a_turn

    new_subscriber = hub._new_subscriber

    def counted(channels: tuple[str, ...], last_id: str | None) -> Subscriber:
        subscriber = new_subscriber(channels, last_id)
        subscriber.__class__ = CountingSubscriber
        return subscriber

    hub._new_subscriber = counted  # type: ignore[method-assign]


def queued_messages(hub: Channels) -> int:
    """Messages waiting in the backlogs of ``hub``'s subscribers in this process, now."""
    subscribers = {s for group in hub._subscribers.values() for s in group}
    return sum(len(subscriber._backlog) for subscriber in subscribers)


def _require_not_started(hub: Channels) -> None:
    if hub.started:
        raise RuntimeError(
            "watch a Channels hub before it starts (where the app is made, not in a handler)"
        )
