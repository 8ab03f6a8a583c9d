"""A rate-limited write and cached reads on one Redis, for tests with real servers.

VELOCIPY_TEST_STORE: the redis:// URL; VELOCIPY_TEST_LIMIT: requests per minute;
VELOCIPY_TEST_ALGORITHM; VELOCIPY_TEST_FAIL ("open" or "closed"); VELOCIPY_TEST_TTL (cache).
The handlers count their runs in Redis ("runs:<name>"), so a test sees them across servers.
"""

import asyncio
import os

from velocipy import VelociPy, WebSocket
from velocipy.caching import ResponseCache
from velocipy.ratelimit import RateLimit
from velocipy.stores import StoreUnavailable
from velocipy.stores.redis import RedisStore

store = RedisStore(os.environ["VELOCIPY_TEST_STORE"], timeout=1.0)
app = VelociPy(problem_details=os.environ.get("VELOCIPY_TEST_PROBLEMS") == "1")
limit = RateLimit(
    int(os.environ.get("VELOCIPY_TEST_LIMIT", "10")),
    "minute",
    algorithm=os.environ.get("VELOCIPY_TEST_ALGORITHM", "fixed_window"),  # type: ignore[arg-type]
    store=store,
    name="burst",
    on_store_error=os.environ.get("VELOCIPY_TEST_FAIL", "open"),  # type: ignore[arg-type]
)
cache = ResponseCache(store, ttl=float(os.environ.get("VELOCIPY_TEST_TTL", "60")))


@app.post("/write", rate_limit=limit)
async def write() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.get("/items", cache=cache)
async def items(page: int = 1) -> dict[str, int]:
    try:
        runs = await store.increment("runs:items")
    except StoreUnavailable:
        runs = 0  # Redis is down: this run is not counted (the tests kill it on purpose)
    await asyncio.sleep(0.2)  # slow enough for concurrent misses to meet
    return {"page": page, "run": runs, "pid": os.getpid()}


@app.post("/items/invalidate")
async def invalidate() -> dict[str, int]:
    return {"removed": await cache.invalidate("/items")}


@app.websocket(
    "/echo",
    rate_limit=RateLimit(2, "minute", store=store, name="ws-handshakes"),
    message_rate_limit=RateLimit(3, "minute"),
)
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@app.get("/versions/{name}", etag=lambda request: request.query_params.get("v"))
async def versioned(name: str) -> dict[str, int]:
    return {"run": await store.increment(f"runs:{name}")}


@app.get("/crash")
async def crash() -> None:
    raise RuntimeError("a bug, logged and never sent")
