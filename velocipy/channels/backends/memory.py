"""The in-process backend: delivery is a function call, history a bounded deque per channel.

It serves one process only. With several workers each has its own memory backend, so a message
published in one worker never reaches another: use the Redis backend for that.

History is bounded twice: each channel keeps its last ``history`` messages, and channels that
nobody subscribes to keep theirs only while they are among the ``idle_channels`` most recently
published (a room everyone left does not hold its messages forever). Ids come from one counter
for the whole backend, so a channel whose history was forgotten never reuses an id.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from velocipy.channels.backends.base import ChannelBackend, Deliver, id_key
from velocipy.channels.messages import Message
from velocipy.json import JSONAdapter

__all__ = ["MemoryBackend"]


class MemoryBackend(ChannelBackend):
    def __init__(self, *, history: int = 0, idle_channels: int = 1000) -> None:
        if history < 0:
            raise ValueError("history must be 0 (off) or a positive number of messages")
        if idle_channels < 0:
            raise ValueError("idle_channels must be 0 or a positive number of channels")
        self.history = history
        self.idle_channels = idle_channels
        self._deliver: Deliver | None = None
        self._kept: dict[str, deque[Message]] = {}  # channels with local subscribers
        self._idle: OrderedDict[str, deque[Message]] = OrderedDict()  # least recent first
        self._subscribed: set[str] = set()
        self._last_id = 0

    async def start(self, deliver: Deliver, json: JSONAdapter) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None

    async def publish(self, message: Message) -> bool:
        if self.history:
            self._last_id += 1
            message.id = str(self._last_id)
            self._keep(message)
        deliver = self._deliver
        if deliver is None:
            return False
        room = deliver(message)
        if room is not None:  # a subscriber's backlog was full: its chance to run first
            await room
        return True

    def _keep(self, message: Message) -> None:
        channel = message.channel
        kept = self._kept.get(channel)
        if kept is None:
            kept = self._idle.pop(channel, None)
            if kept is None:
                kept = deque(maxlen=self.history)
            if channel in self._subscribed:
                self._kept[channel] = kept
            else:
                self._idle[channel] = kept  # now the most recent
                while len(self._idle) > self.idle_channels:
                    self._idle.popitem(last=False)
        kept.append(message)

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)
        kept = self._idle.pop(channel, None)
        if kept is not None:
            self._kept[channel] = kept

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)
        kept = self._kept.pop(channel, None)
        if kept is not None and self.idle_channels:
            self._idle[channel] = kept
            while len(self._idle) > self.idle_channels:
                self._idle.popitem(last=False)

    def kept_channels(self) -> int:
        """How many channels hold history now (subscribed ones and the recent idle ones)."""
        return len(self._kept) + len(self._idle)

    async def history_after(self, channel: str, last_id: str) -> list[Message]:
        after = id_key(last_id)
        kept = self._kept.get(channel)
        if kept is None:
            kept = self._idle.get(channel, deque())
        return [m for m in kept if m.id and id_key(m.id) > after]
