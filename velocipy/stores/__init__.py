"""One key-value store protocol shared by sessions, rate limits, caches and applications.

Two stores ship: :class:`~velocipy.stores.memory.MemoryStore` (one process) and
:class:`~velocipy.stores.redis.RedisStore` (every worker and machine, through redis-py's asyncio
client; ``pip install -e '.[redis]'``). ``velocipy.stores.redis`` is imported only when used.

Keys are strings, values are bytes, TTLs are seconds (floats allowed). A store reachable over a
network raises :class:`StoreUnavailable` when it cannot answer, so callers can choose to fail open
or closed without knowing which store they run on.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["NamespacedStore", "Store", "StoreUnavailable", "store_from_url"]


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer in time (the cause is chained)."""


@runtime_checkable
class Store(Protocol):
    """What every store does. All methods are coroutines except :meth:`namespace`."""

    async def get(self, key: str) -> bytes | None:
        """The value under ``key``, or ``None`` if it is missing or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``; it expires after ``ttl`` seconds (``None``: never)."""
        ...

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent; ``True`` if it was stored (a lock)."""
        ...

    async def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` atomically and return the new value (a missing key counts from 0).

        ``ttl`` applies when the increment creates the key (the first one), so a counter
        lives ``ttl`` seconds from its first increment however often it is incremented.
        """
        ...

    async def expires_in(self, key: str) -> float | None:
        """Seconds until ``key`` expires; ``None`` if it is missing or never expires."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it existed."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key that starts with ``prefix``; return how many were removed."""
        ...

    def namespace(self, name: str) -> Store:
        """A view of this store whose keys are all prefixed with ``name:``.

        Namespaces nest (``store.namespace("a").namespace("b")`` uses ``a:b:``), share the
        underlying connection, and never see each other's keys.
        """
        ...

    async def close(self) -> None:
        """Release connections (a namespace view does nothing: its parent owns them)."""
        ...


class NamespacedStore:
    """A view of a store whose keys all start with ``name:`` (works on any store)."""

    def __init__(self, store: Store, name: str) -> None:
        if not name or ":" in name:
            raise ValueError(f"a namespace is a non-empty name without ':' (got {name!r})")
        self.store = store
        self.prefix = name + ":"

    async def get(self, key: str) -> bytes | None:
        return await self.store.get(self.prefix + key)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        await self.store.set(self.prefix + key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return await self.store.add(self.prefix + key, value, ttl)

    async def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return await self.store.increment(self.prefix + key, amount, ttl)

    async def expires_in(self, key: str) -> float | None:
        return await self.store.expires_in(self.prefix + key)

    async def delete(self, key: str) -> bool:
        return await self.store.delete(self.prefix + key)

    async def delete_prefix(self, prefix: str) -> int:
        return await self.store.delete_prefix(self.prefix + prefix)

    def namespace(self, name: str) -> Store:
        return NamespacedStore(self, name)

    async def close(self) -> None:
        """Nothing to release: the parent store owns the connection."""


def store_from_url(url: str) -> Store:
    """``memory://`` for a :class:`MemoryStore`, ``redis://…`` / ``rediss://…`` for a RedisStore."""
    if url == "memory://" or url == "memory":
        from velocipy.stores.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from velocipy.stores.redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unknown store URL {url!r}: use 'memory://' or 'redis://host:port/db'")
