"""Subscribers: a bounded backlog per subscriber, and the slow-consumer policy applied to it.

Publishing never waits for a subscriber: a message is appended to each subscriber's backlog
(a plain deque) and the subscriber's own task takes it from there (a joined WebSocket whose
backlog is empty may send it at once instead, through ``direct``, when that does not wait:
see ``Membership._send_now``). When a backlog is full the
policy decides: ``"close"`` drops the subscriber (a joined WebSocket is closed with 1013 "try
again later"; a ``subscribe()`` loop raises :class:`SlowSubscriberError`), ``"drop_oldest"``
discards the oldest waiting message and counts it in ``lost``.

A subscriber is slow when it does not keep up once it had the chance to run, not when a
publisher outpaced the scheduler: a burst published without an ``await`` (or a Redis reader
handing over what it had buffered) fills a backlog before its task ever runs, and on granian
each WebSocket send completes only in a later turn of the loop. So a full backlog first makes
the delivery wait (:meth:`Subscriber.put` returns True, the backend awaits
:meth:`Subscriber.room`) until the subscriber takes a message, for at most ``GRACE_SECONDS``
since it last took one; a subscriber that took nothing in that time is slow. The wait holds
back only a delivery that meets a full backlog, and a backlog holds at most ``limit`` plus one
message per task publishing at that moment.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Literal, TypeAlias

from velocipy.channels.messages import Message

__all__ = ["OverflowPolicy", "SlowSubscriberError", "Subscriber", "SubscriptionClosed"]

OverflowPolicy: TypeAlias = Literal["close", "drop_oldest"]
#: How long a subscriber with a full backlog has to take a message before it is slow.
GRACE_SECONDS = 1.0


class SlowSubscriberError(Exception):
    """The subscriber fell ``backlog`` messages behind and was dropped (policy ``"close"``)."""


class SubscriptionClosed(Exception):
    """The subscription ended: it was left, or the channels were stopped."""


class Subscriber:
    """One consumer's backlog: filled by the fan-out, emptied by :meth:`get`."""

    __slots__ = (
        "_backlog",
        "_ended",
        "_grace_ends",
        "_progress",
        "_waiter",
        "catching_up",
        "channels",
        "direct",
        "exclude_sender",
        "limit",
        "lost",
        "on_drop",
        "policy",
    )

    def __init__(
        self,
        channels: tuple[str, ...],
        limit: int,
        policy: OverflowPolicy,
        exclude_sender: str | None = None,
    ) -> None:
        self.channels = channels
        self.limit = limit
        self.policy = policy
        self.exclude_sender = exclude_sender
        self.lost = 0
        self.on_drop: Callable[[Subscriber], None] | None = None
        #: Set by a joined WebSocket: sends a message at once when nothing waits before it
        #: (True), or declines (False) and the message joins the backlog.
        self.direct: Callable[[Message], bool] | None = None
        #: While a catch-up from history runs, live messages wait here (then deduplicated).
        self.catching_up: list[Message] | None = None
        self._backlog: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended: BaseException | None = None
        self._grace_ends: float | None = None  # while full: when it becomes slow
        self._progress: asyncio.Future[None] | None = None  # resolved when it takes a message

    @property
    def ended(self) -> bool:
        return self._ended is not None

    @property
    def empty(self) -> bool:
        """No message is waiting in the backlog."""
        return not self._backlog

    def offer(self, message: Message, send_now: bool = True) -> bool:
        """Called by the fan-out for each message; never blocks, never raises. ``send_now``
        False: queue it even where ``direct`` could send it at once.

        True when the publisher should yield a turn of the event loop (see :meth:`put`).
        """
        if self._ended is not None or (
            message.sender is not None and message.sender == self.exclude_sender
        ):
            return False
        if self.catching_up is not None:
            self.catching_up.append(message)
            return False
        if send_now:
            direct = self.direct
            if direct is not None and not self._backlog and direct(message):
                return False
        return self.put(message)

    def put(self, message: Message) -> bool:
        """Append ``message``; True when the backlog is full and the delivery should wait for
        :meth:`room` (the subscriber has not had its ``GRACE_SECONDS`` yet)."""
        backlog = self._backlog
        owed_a_turn = False
        if len(backlog) >= self.limit:
            now = asyncio.get_running_loop().time()
            if self._grace_ends is None:
                self._grace_ends = now + GRACE_SECONDS
            if now < self._grace_ends:
                owed_a_turn = True
            elif self.policy == "drop_oldest":
                backlog.popleft()
                self.lost += 1
            else:
                self.end(SlowSubscriberError(f"fell {self.limit} messages behind and was dropped"))
                if self.on_drop is not None:
                    self.on_drop(self)
                return False
        backlog.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return owed_a_turn

    async def get(self) -> Message:
        """The next message; raises why the subscriber ended once its backlog is empty."""
        while True:
            message = self.take()
            if message is not None:
                return message
            await self.wait()

    def take(self) -> Message | None:
        """The next message if one is waiting, else None; raises why the subscriber ended
        once its backlog is empty (a dropped one's at once: what is left is stale)."""
        ended = self._ended
        if ended is not None and (not self._backlog or isinstance(ended, SlowSubscriberError)):
            raise ended
        if not self._backlog:
            return None
        self._grace_ends = None  # it keeps up
        progress = self._progress
        if progress is not None:
            self._progress = None
            if not progress.done():
                progress.set_result(None)
        return self._backlog.popleft()

    async def wait(self) -> None:
        """Until a message is waiting; raises why the subscriber ended once its backlog is
        empty."""
        while not self._backlog:
            if self._ended is not None:
                raise self._ended
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def room(self) -> None:
        """Wait until this subscriber takes a message, ends, or its grace runs out."""
        grace_ends = self._grace_ends
        if grace_ends is None or self._ended is not None:
            return
        loop = asyncio.get_running_loop()
        if self._progress is None:
            self._progress = loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._progress), grace_ends - loop.time())
        except TimeoutError:
            pass

    def end(self, reason: BaseException) -> None:
        if self._ended is None:
            self._ended = reason
        progress = self._progress
        if progress is not None and not progress.done():
            progress.set_result(None)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
