"""The Store protocol on memory and on a real redis-server: the same assertions on both."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from tests.channels.redis_server import RedisServer
from velocipy.stores import NamespacedStore, Store, StoreUnavailable, store_from_url
from velocipy.stores.memory import MemoryStore
from velocipy.stores.redis import RedisStore

Scenario = Callable[[Store], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """``run(scenario)``: run ``scenario(store)`` on a fresh store of the parametrized kind."""

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            store: Store
            if request.param == "memory":
                store = MemoryStore()
            else:
                server: RedisServer = request.getfixturevalue("redis_server")
                server.command("FLUSHALL")
                store = RedisStore(server.url)
            try:
                await scenario(store)
            finally:
                await store.close()

        asyncio.run(main())

    return runner


def test_get_set_and_missing_keys(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        assert await store.get("a") is None
        await store.set("a", b"\x00one")
        assert await store.get("a") == b"\x00one"
        await store.set("a", b"two")
        assert await store.get("a") == b"two"
        assert await store.expires_in("a") is None

    run(scenario)


def test_ttl_expires_the_key(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.set("short", b"x", ttl=0.2)
        await store.set("long", b"y", ttl=60)
        left = await store.expires_in("short")
        assert left is not None
        assert 0 < left <= 0.2
        long_left = await store.expires_in("long")
        assert long_left is not None
        assert 59 < long_left <= 60
        await asyncio.sleep(0.35)
        assert await store.get("short") is None
        assert await store.expires_in("short") is None
        assert await store.get("long") == b"y"

    run(scenario)


def test_ttl_must_be_positive(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        for bad in (0, -1):
            with pytest.raises(ValueError, match="ttl must be a positive number"):
                await store.set("k", b"v", ttl=bad)
        assert await store.get("k") is None

    run(scenario)


def test_add_stores_only_when_absent(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        assert await store.add("lock", b"first", ttl=0.2) is True
        assert await store.add("lock", b"second", ttl=0.2) is False
        assert await store.get("lock") == b"first"
        await asyncio.sleep(0.35)
        assert await store.add("lock", b"third") is True
        assert await store.get("lock") == b"third"

    run(scenario)


def test_increment_counts_and_keeps_the_first_ttl(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        assert await store.increment("n", ttl=0.3) == 1
        await asyncio.sleep(0.15)
        assert await store.increment("n", ttl=0.3) == 2  # does not push the deadline out
        assert await store.increment("n", 5, ttl=0.3) == 7
        assert await store.get("n") == b"7"
        left = await store.expires_in("n")
        assert left is not None
        assert left <= 0.15 + 0.01
        await asyncio.sleep(0.25)
        assert await store.get("n") is None
        assert await store.increment("n", ttl=0.3) == 1  # a new window starts from zero
        assert await store.increment("forever") == 1
        assert await store.expires_in("forever") is None
        assert await store.increment("forever", -3) == -2

    run(scenario)


def test_increment_of_a_non_integer_is_a_clear_error(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.set("text", b"abc")
        with pytest.raises(ValueError, match="the value under 'text' is not an integer"):
            await store.increment("text")
        assert await store.get("text") == b"abc"

    run(scenario)


def test_concurrent_increments_lose_nothing(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        results = await asyncio.gather(*(store.increment("c", ttl=60) for _ in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await store.get("c") == b"200"

    run(scenario)


def test_delete_and_delete_prefix(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        for key in ("user:1", "user:2", "user:10", "users", "other", "user*[x]"):
            await store.set(key, b"v")
        assert await store.delete("other") is True
        assert await store.delete("other") is False
        assert await store.get("other") is None
        # glob characters in a prefix are literal, not patterns
        assert await store.delete_prefix("user*") == 1
        assert await store.get("users") == b"v"
        assert await store.delete_prefix("user:") == 3
        assert await store.get("user:1") is None
        assert await store.get("user:10") is None
        assert await store.get("users") == b"v"
        assert await store.delete_prefix("nothing") == 0

    run(scenario)


def test_delete_prefix_removes_many_keys(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        for n in range(1234):
            await store.set(f"bulk:{n}", b"v")
        await store.set("keep", b"v")
        assert await store.delete_prefix("bulk:") == 1234
        assert await store.get("bulk:0") is None
        assert await store.get("keep") == b"v"

    run(scenario)


def test_namespaces_are_isolated_and_nest(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        sessions = store.namespace("sessions")
        limits = store.namespace("limits")
        inner = limits.namespace("ws")
        await sessions.set("k", b"s")
        await limits.set("k", b"l")
        await inner.set("k", b"i")
        assert await sessions.get("k") == b"s"
        assert await limits.get("k") == b"l"
        assert await inner.get("k") == b"i"
        assert await store.get("sessions:k") == b"s"
        assert await store.get("limits:ws:k") == b"i"
        assert await limits.increment("n", ttl=60) == 1
        assert await limits.add("n", b"x") is False
        left = await limits.expires_in("n")
        assert left is not None
        assert left > 59
        # a namespace's delete_prefix("") empties it, and only it (nested ones included)
        assert await limits.delete_prefix("") == 3
        assert await sessions.get("k") == b"s"
        assert await inner.get("k") is None
        assert await sessions.delete("k") is True
        assert await store.get("sessions:k") is None
        await sessions.close()  # a view closes nothing
        assert await store.increment("still-open") == 1

    run(scenario)


@pytest.mark.parametrize("name", ["", "a:b"])
def test_a_namespace_name_is_checked(name: str) -> None:
    with pytest.raises(ValueError, match="a namespace is a non-empty name without ':'"):
        MemoryStore().namespace(name)


def test_store_from_url_and_protocol_check(redis_server: RedisServer) -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    redis_store = store_from_url(redis_server.url)
    assert isinstance(redis_store, RedisStore)
    for store in (MemoryStore(), redis_store, NamespacedStore(MemoryStore(), "x")):
        assert isinstance(store, Store)
    with pytest.raises(ValueError, match="unknown store URL 'mysql://x'"):
        store_from_url("mysql://x")


def test_memory_store_bounds_its_entries() -> None:
    async def scenario() -> None:
        store = MemoryStore(max_entries=10)
        await store.set("forever", b"v")
        for n in range(30):
            await store.set(f"k{n}", b"v", ttl=100 + n)
        assert len(store._data) <= 10
        # the entries closest to expiry go first; one that never expires goes last
        assert await store.get("forever") == b"v"
        assert await store.get("k29") == b"v"
        assert await store.get("k0") is None

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="max_entries must be at least 1"):
        MemoryStore(max_entries=0)


def test_redis_store_down_raises_unavailable_then_recovers(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        store = RedisStore(redis_server.url, timeout=1.0)
        try:
            await store.set("k", b"v")
            redis_server.kill()
            for call in (
                store.get("k"),
                store.set("k", b"v"),
                store.add("k", b"v"),
                store.increment("k"),
                store.expires_in("k"),
                store.delete("k"),
                store.delete_prefix("k"),
            ):
                with pytest.raises(StoreUnavailable, match=f"Redis at {redis_server.url}"):
                    await call
            redis_server.start()
            assert await store.get("k") is None  # a fresh redis-server (no persistence)
            assert await store.increment("k", ttl=60) == 1
        finally:
            await store.close()

    asyncio.run(scenario())


def test_redis_store_takes_a_client_and_leaves_it_open(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        store = RedisStore(client=client, key_prefix="app:")
        await store.set("k", b"v")
        assert await client.get("app:k") == b"v"
        await store.close()
        assert await client.get("app:k") == b"v"  # still usable: the store did not own it
        await client.aclose()

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="exactly one of url= or client="):
        RedisStore()


def test_importing_stores_does_not_import_redis() -> None:
    import subprocess

    code = "import velocipy.stores, velocipy.stores.memory, sys; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
