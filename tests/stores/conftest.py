from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.redis_server import RedisServer, redis_running


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the module (tests use distinct keys or flush it)."""
    with redis_running() as server:
        yield server
