"""A store on Redis through redis-py's asyncio client: one state for every worker and machine.

Needs redis-py (``pip install -e '.[redis]'``). Commands that cannot reach Redis, or get no
answer within ``timeout`` seconds, raise :class:`~velocipy.stores.StoreUnavailable`; the next
command connects again, so a restarted Redis is picked up without restarting the app.
"""

from __future__ import annotations

from typing import Any

from velocipy.stores import NamespacedStore, Store, StoreUnavailable

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RedisStore needs redis-py: pip install -e '.[redis]' (or add redis>=5 to your project)"
    ) from exc

__all__ = ["RedisStore"]

# INCRBY, and a TTL when the key has none (it was just created by this increment).
_INCREMENT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""

_UNAVAILABLE = (RedisError, OSError, TimeoutError)


def _milliseconds(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds (or None: never expires)")
    return max(1, round(ttl * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisStore:
    """Keys live in Redis under ``key_prefix`` (default ``velocipy:``).

    Pass a URL (``redis://host:port/db``) or an existing ``redis.asyncio.Redis`` client (which
    the store then does not close). The client is created on first use, inside the running loop.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        key_prefix: str = "velocipy:",
        timeout: float = 2.0,
        max_connections: int = 50,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisStore needs exactly one of url= or client=")
        self.url = url
        self.key_prefix = key_prefix
        self.timeout = timeout
        self.max_connections = max_connections
        self._client = client
        self._owns_client = client is None
        self._increment: Any = None

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py asyncio client (created on first use)."""
        if self._client is None:
            assert self.url is not None
            # A bounded pool where a burst waits (up to ``timeout``) for a free connection
            # instead of failing; one attempt per command: the caller decides what an outage
            # means (a rate limit fails open or closed), and the next command connects again.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout,
            )
            self._client = aioredis.Redis.from_pool(pool)
        return self._client

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        where = self.url or "the given client"
        return StoreUnavailable(f"Redis at {where} did not answer: {exc or type(exc).__name__}")

    # --- the Store protocol ------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        try:
            value: Any = await self.client.get(self._key(key))
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = _milliseconds(ttl)
        try:
            await self.client.set(self._key(key), value, px=px)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        px = _milliseconds(ttl)
        try:
            stored = await self.client.set(self._key(key), value, px=px, nx=True)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return bool(stored)

    async def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        px = _milliseconds(ttl)
        if self._increment is None:
            self._increment = self.client.register_script(_INCREMENT)
        try:
            value = await self._increment(keys=[self._key(key)], args=[amount, px or ""])
        except _UNAVAILABLE as exc:
            if isinstance(exc, RedisError) and "not an integer" in str(exc):
                raise ValueError(f"the value under {key!r} is not an integer") from None
            raise self._unavailable(exc) from exc
        return int(value)

    async def expires_in(self, key: str) -> float | None:
        try:
            pttl = await self.client.pttl(self._key(key))
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return None if pttl < 0 else pttl / 1000

    async def delete(self, key: str) -> bool:
        try:
            removed = await self.client.delete(self._key(key))
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return bool(removed)

    async def delete_prefix(self, prefix: str) -> int:
        pattern = _glob_escape(self._key(prefix)) + "*"
        removed = 0
        try:
            batch: list[bytes] = []
            async for key in self.client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += await self.client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self.client.unlink(*batch)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        return removed

    def namespace(self, name: str) -> Store:
        return NamespacedStore(self, name)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._increment = None
        if client is not None and self._owns_client:
            try:
                await client.aclose()
            except _UNAVAILABLE:
                pass
