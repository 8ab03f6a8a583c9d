"""The in-process backend: delivery is a function call, history a bounded deque per channel.

It serves one process only. With several workers each has its own memory backend, so a message
published in one worker never reaches another: use the Redis backend for that.
"""

from __future__ import annotations

from collections import deque

from velocipy.channels.backends.base import ChannelBackend, Deliver, id_key
from velocipy.channels.messages import Message
from velocipy.json import JSONAdapter

__all__ = ["MemoryBackend"]


class MemoryBackend(ChannelBackend):
    def __init__(self, *, history: int = 0) -> None:
        if history < 0:
            raise ValueError("history must be 0 (off) or a positive number of messages")
        self.history = history
        self._deliver: Deliver | None = None
        self._kept: dict[str, deque[Message]] = {}
        self._counters: dict[str, int] = {}

    async def start(self, deliver: Deliver, json: JSONAdapter) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None

    async def publish(self, message: Message) -> bool:
        if self.history:
            number = self._counters.get(message.channel, 0) + 1
            self._counters[message.channel] = number
            message.id = str(number)
            kept = self._kept.get(message.channel)
            if kept is None:
                kept = self._kept[message.channel] = deque(maxlen=self.history)
            kept.append(message)
        if self._deliver is None:
            return False
        self._deliver(message)
        return True

    async def subscribe(self, channel: str) -> None:
        pass

    async def unsubscribe(self, channel: str) -> None:
        pass

    async def history_after(self, channel: str, last_id: str) -> list[Message]:
        after = id_key(last_id)
        return [m for m in self._kept.get(channel, ()) if m.id and id_key(m.id) > after]
