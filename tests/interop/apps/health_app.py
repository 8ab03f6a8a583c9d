"""/health and /ready with a Redis check (REDIS_URL), for test_health_interop.py."""

from __future__ import annotations

import os

from redis.asyncio import Redis

from velocipy import VelociPy
from velocipy.observability import Health, redis_check

app = VelociPy()
redis = Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5)
app.add_instrument(Health(checks={"redis": redis_check(redis)}, timeout=0.5))
