"""A store in this process's memory: fast, and private to one worker."""

from __future__ import annotations

import time

from velocipy.stores import NamespacedStore, Store

__all__ = ["MemoryStore"]

_Entry = tuple[bytes, float | None]  # value, monotonic deadline (None: never expires)


class MemoryStore:
    """A dict with deadlines. Expired keys vanish on access and in a periodic sweep.

    Every operation completes without awaiting, so it is atomic within the event loop.
    ``max_entries`` bounds the memory: past it, the entries closest to expiry are dropped first.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._data: dict[str, _Entry] = {}
        self._writes = 0

    # --- helpers ---------------------------------------------------------------------------
    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not None and deadline <= now:
            del self._data[key]
            return None
        return entry

    def _put(self, key: str, value: bytes, deadline: float | None) -> None:
        self._data[key] = (value, deadline)
        self._writes += 1
        if self._writes >= 1000 or len(self._data) > self.max_entries:
            self._writes = 0
            self._sweep()

    def _sweep(self) -> None:
        now = time.monotonic()
        expired = [k for k, (_, d) in self._data.items() if d is not None and d <= now]
        for key in expired:
            del self._data[key]
        excess = len(self._data) - self.max_entries
        if excess > 0:
            forever = float("inf")
            by_deadline = sorted(self._data, key=lambda k: self._data[k][1] or forever)
            for key in by_deadline[:excess]:
                del self._data[key]

    @staticmethod
    def _deadline(ttl: float | None, now: float) -> float | None:
        if ttl is None:
            return None
        if ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds (or None: never expires)")
        return now + ttl

    # --- the Store protocol ------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        entry = self._live(key, time.monotonic())
        return None if entry is None else entry[0]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._put(key, value, self._deadline(ttl, time.monotonic()))

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        now = time.monotonic()
        deadline = self._deadline(ttl, now)
        if self._live(key, now) is not None:
            return False
        self._put(key, value, deadline)
        return True

    async def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        now = time.monotonic()
        deadline = self._deadline(ttl, now)
        entry = self._live(key, now)
        if entry is None:
            value = amount
        else:
            try:
                value = int(entry[0]) + amount
            except ValueError:
                raise ValueError(f"the value under {key!r} is not an integer") from None
            deadline = entry[1]
        self._put(key, str(value).encode(), deadline)
        return value

    async def expires_in(self, key: str) -> float | None:
        now = time.monotonic()
        entry = self._live(key, now)
        if entry is None or entry[1] is None:
            return None
        return entry[1] - now

    async def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._data if key.startswith(prefix)]
        for key in doomed:
            del self._data[key]
        return len(doomed)

    def namespace(self, name: str) -> Store:
        return NamespacedStore(self, name)

    async def close(self) -> None:
        self._data.clear()
