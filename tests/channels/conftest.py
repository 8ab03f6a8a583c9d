from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.redis_server import RedisServer, redis_running


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for this test, killed at the end."""
    with redis_running() as server:
        yield server
