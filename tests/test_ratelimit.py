"""Rate limits in process, on ASGI and RSGI: algorithms, keys, headers, scopes, WebSockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

import velocipy.ratelimit
from velocipy import APIRouter, Request, VelociPy, WebSocket
from velocipy.ratelimit import RateLimit, RateLimitMiddleware
from velocipy.stores import StoreUnavailable
from velocipy.stores.memory import MemoryStore
from velocipy.testing import TestClient
from velocipy.testing.errors import WebSocketClosed, WebSocketDenied

Client = Callable[..., TestClient]


def hits(client: TestClient, path: str, n: int, **kwargs: object) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(n)]


def test_fixed_window_at_below_and_above_the_limit(client_for: Client) -> None:
    app = VelociPy()
    calls: list[int] = []

    @app.post("/write", rate_limit=RateLimit(3, "minute"))
    async def write() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    client = client_for(app)
    for left in (2, 1, 0):  # below, then at the limit: allowed, the count shown
        response = client.post("/write")
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"POST /write";q=3;w=60'
        state = response.headers["ratelimit"]
        assert state.startswith(f'"POST /write";r={left};t=')
    refused = client.post("/write")  # above
    assert refused.status_code == 429
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    assert refused.headers["ratelimit"] == f'"POST /write";r=0;t={retry}'
    assert refused.json() == {
        "detail": f"Rate limit exceeded: 3 per 60 seconds; retry in {retry} s"
    }
    assert len(calls) == 3  # the refused request never reached the handler


class Clock:
    """A wall clock the test moves by hand (the limits read ``time.time()``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_000_000.0)  # the start of a window of 1, 2, 10 or 100 seconds
    # the limits' module sees the fake wall clock; everything else keeps the real one
    fake_time = SimpleNamespace(time=fake, monotonic=time.monotonic)
    monkeypatch.setattr(velocipy.ratelimit, "time", fake_time)
    return fake


def test_the_window_resets(clock: Clock) -> None:
    async def scenario() -> None:
        limit = RateLimit(2, per=10, name="w")
        assert [r.allowed for r in [await limit.hit("c") for _ in range(3)] if r] == [
            True,
            True,
            False,
        ]
        clock.now += 9.5  # the same window: still refused, half a second to wait
        refused = await limit.hit("c")
        assert refused is not None
        assert refused.allowed is False
        assert refused.retry_after == pytest.approx(0.5)
        clock.now += 0.5  # the next window
        allowed = await limit.hit("c")
        assert allowed is not None
        assert (allowed.allowed, allowed.remaining) == (True, 1)

    asyncio.run(scenario())


def test_sliding_window_weights_the_previous_window_and_refusals_cost_nothing(
    clock: Clock,
) -> None:
    async def scenario() -> None:
        limit = RateLimit(10, per=100, algorithm="sliding_window", name="s")
        results = [await limit.hit("c") for _ in range(12)]
        assert [r.allowed for r in results if r] == [True] * 10 + [False] * 2
        clock.now += 150  # half-way into the next window: the previous 10 weigh 5
        later = [await limit.hit("c") for _ in range(10)]
        assert [r.allowed for r in later if r] == [True] * 5 + [False] * 5
        refused = later[-1]
        assert refused is not None
        assert refused.retry_after == pytest.approx(10.0)  # one previous request slides out
        # the refused ones were given back: the current window holds only the allowed ones
        assert await limit._counters.get("s:c:10001") == b"5"

    asyncio.run(scenario())


def test_token_bucket_allows_a_burst_then_refills(clock: Clock) -> None:
    async def scenario() -> None:
        limit = RateLimit(5, per=10, algorithm="token_bucket", name="t")  # a token in 2 s
        burst = [await limit.hit("c") for _ in range(6)]
        assert [r.allowed for r in burst if r] == [True] * 5 + [False]
        last = burst[-1]
        assert last is not None
        assert last.retry_after == pytest.approx(2.0)
        clock.now += 5  # two and a half tokens back
        again = [await limit.hit("c") for _ in range(4)]
        assert [r.allowed for r in again if r] == [True, True, False, False]
        clock.now += 100  # a long pause refills the bucket, never beyond its size
        assert [r.allowed for r in [await limit.hit("c") for _ in range(6)] if r] == [
            *[True] * 5,
            False,
        ]

    asyncio.run(scenario())


def test_keys_address_api_key_user_and_function(client_for: Client) -> None:
    app = VelociPy()

    @app.middleware
    async def login(request: Request, call_next):  # type: ignore[no-untyped-def]
        name = request.headers.get("x-user")
        if name:
            setattr(request.state, "user", type("User", (), {"id": name})())
        return await call_next(request)

    @app.get("/ip", rate_limit=RateLimit(1, "minute"))
    async def by_ip() -> str:
        return "ok"

    @app.get("/key", rate_limit=RateLimit(1, "minute", key="api_key"))
    async def by_key() -> str:
        return "ok"

    @app.get("/user", rate_limit=RateLimit(1, "minute", key="user"))
    async def by_user() -> str:
        return "ok"

    def tenant(request: Request) -> str | None:
        return request.query_params.get("tenant")  # no tenant: not limited

    @app.get("/fn", rate_limit=RateLimit(1, "minute", key=tenant))
    async def by_fn() -> str:
        return "ok"

    one = client_for(app, client_address=("10.0.0.1", 1000))
    two = client_for(app, client_address=("10.0.0.2", 1000))
    assert hits(one, "/ip", 2) + hits(two, "/ip", 2) == [200, 429, 200, 429]
    assert hits(one, "/key", 2, headers={"x-api-key": "a"}) == [200, 429]
    assert hits(one, "/key", 1, headers={"x-api-key": "b"}) == [200]
    assert hits(one, "/key", 2) == [200, 429]  # no key: counted by address
    assert hits(one, "/user", 2, headers={"x-user": "ann"}) == [200, 429]
    assert hits(one, "/user", 1, headers={"x-user": "bob"}) == [200]
    assert hits(one, "/fn", 2, params={"tenant": "t1"}) == [200, 429]
    assert hits(one, "/fn", 3) == [200, 200, 200]


def test_each_route_has_its_budget_and_a_name_shares_one(client_for: Client) -> None:
    app = VelociPy()
    shared = RateLimit(2, "minute", name="writes")
    each = RateLimit(1, "minute")

    @app.get("/a", rate_limit=each)
    async def a() -> str:
        return "a"

    @app.get("/b", rate_limit=each)
    async def b() -> str:
        return "b"

    @app.post("/c", rate_limit=shared)
    async def c() -> str:
        return "c"

    @app.post("/d", rate_limit=shared)
    async def d() -> str:
        return "d"

    client = client_for(app)
    assert hits(client, "/a", 2) + hits(client, "/b", 2) == [200, 429, 200, 429]
    codes = [client.post(p).status_code for p in ("/c", "/d", "/c", "/d")]
    assert codes == [200, 200, 429, 429]
    assert client.post("/d").headers["ratelimit-policy"] == '"writes";q=2;w=60'


def test_router_limit_is_one_budget_for_its_routes_plus_route_limits(client_for: Client) -> None:
    app = VelociPy()
    router = APIRouter(prefix="/api", rate_limit=RateLimit(3, "minute"))

    @router.get("/one")
    async def one() -> str:
        return "1"

    @router.get("/two", rate_limit=RateLimit(1, "minute"))
    async def two() -> str:
        return "2"

    @app.get("/free")
    async def free() -> str:
        return "free"

    app.include_router(router)
    client = client_for(app)
    first = client.get("/api/two")
    assert first.status_code == 200
    policies = first.headers["ratelimit-policy"].split(", ")
    assert policies[1] == '"GET /api/two";q=1;w=60'
    assert policies[0].endswith(";q=3;w=60")
    # one RateLimit item: the policy with the least remaining (the route's: none left)
    assert first.headers["ratelimit"].startswith('"GET /api/two";r=0;t=')
    assert client.get("/api/two").status_code == 429  # its own limit; the router counted both
    assert hits(client, "/api/one", 2) == [200, 429]  # the router's third, then none left
    assert hits(client, "/free", 5) == [200] * 5
    assert "ratelimit" not in client.get("/free").headers  # a route without limits: no fields


def test_app_middleware_limits_every_path_but_the_exempt_ones(client_for: Client) -> None:
    app = VelociPy(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        RateLimitMiddleware, limit=RateLimit(2, "minute", exempt=["/health", "/static/*"])
    )

    @app.get("/x")
    async def x() -> str:
        return "x"

    @app.get("/health")
    async def health() -> str:
        return "up"

    client = client_for(app)
    assert [client.get(p).status_code for p in ("/x", "/nope", "/x", "/x")] == [200, 404, 429, 429]
    assert hits(client, "/health", 3) == [200, 200, 200]
    assert hits(client, "/static/app.js", 2) == [404, 404]  # exempt by prefix: never a 429
    assert client.get("/x").headers["ratelimit-policy"] == '"app";q=2;w=60'


def test_websocket_handshakes_and_messages(client_for: Client) -> None:
    app = VelociPy()

    @app.websocket(
        "/ws",
        rate_limit=RateLimit(2, "minute"),
        message_rate_limit=RateLimit(3, per=60),
    )
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    client = client_for(app)
    with client.websocket_connect("/ws") as ws:
        for n in range(3):  # at the limit: all echoed
            ws.send_text(str(n))
            assert ws.receive_text() == str(n)
        ws.send_text("one too many")
        with pytest.raises(WebSocketClosed) as closed:
            ws.receive_text()
    expected = (1008, "message rate limit exceeded: 3 per 60 s")
    # RSGI cannot send close codes or reasons: its clients see 1005 (docs/rsgi.md)
    assert (closed.value.code, closed.value.reason) == (
        expected if client.interface == "asgi" else (1005, "")
    )
    with client.websocket_connect("/ws") as ws:  # the second handshake; a fresh message budget
        ws.send_text("x")
        assert ws.receive_text() == "x"
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/ws")
    assert denied.value.status_code == 429
    headers = dict(denied.value.headers)
    if client.interface == "asgi":  # RSGI refusals carry the status only
        assert 1 <= int(headers["retry-after"]) <= 60


class DownStore(MemoryStore):
    async def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        raise StoreUnavailable("Redis at redis://127.0.0.1:1/0 did not answer: refused")


@pytest.mark.parametrize(("mode", "expected"), [("open", 200), ("closed", 503)])
def test_store_down_fails_open_or_closed_with_one_log_line(
    client_for: Client, caplog: pytest.LogCaptureFixture, mode: str, expected: int
) -> None:
    app = VelociPy()

    limit = RateLimit(1, "minute", store=DownStore(), on_store_error=mode)  # type: ignore[arg-type]

    @app.get("/x", rate_limit=limit)
    async def x() -> str:
        return "x"

    @app.get("/y", rate_limit=limit)  # a budget of its own, the same store: the same outage
    async def y() -> str:
        return "y"

    client = client_for(app)
    with caplog.at_level(logging.INFO, "velocipy"):
        responses = [client.get(path) for path in ("/x", "/y", "/x", "/y", "/x")]
    assert [r.status_code for r in responses] == [expected] * 5
    if mode == "closed":
        assert responses[0].headers["retry-after"] == "1"
        assert "store cannot be reached" in responses[0].json()["detail"]
    lines = [r for r in caplog.records if r.name.startswith("velocipy")]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING
    assert "store unavailable" in lines[0].getMessage()
    assert lines[0].exc_info is None  # one line, no traceback


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "a rate limit is a whole number of requests >= 1, not 0"),
        ({"limit": 1, "per": "fortnight"}, "per='fortnight': give seconds"),
        ({"limit": 1, "per": 0}, "per=0: give seconds"),
        ({"limit": 1, "algorithm": "leaky"}, "algorithm='leaky': use one of"),
        ({"limit": 1, "key": "cookie"}, "key='cookie': use 'ip', 'user', 'api_key'"),
        ({"limit": 1, "on_store_error": "maybe"}, "on_store_error must be 'open'"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_a_route_without_limits_is_not_wrapped() -> None:
    app = VelociPy()

    async def plain() -> str:
        return "x"

    app.get("/plain")(plain)
    app.get("/limited", rate_limit=RateLimit(1))(plain)
    compiled = {r.path: r.compiled for r in app.routes}
    assert compiled["/plain"].invoke is plain  # decided at registration: nothing in between
    assert compiled["/limited"].invoke.__name__ == "invoke_limited"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_budget(client_for: Client) -> None:
    from velocipy.middleware.proxyheaders import ProxyHeadersMiddleware

    app = VelociPy()
    app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=["10.0.0.1"])

    @app.get("/x", rate_limit=RateLimit(1, "minute"))
    async def x() -> str:
        return "x"

    proxy = client_for(app, client_address=("10.0.0.1", 1000))
    stranger = client_for(app, client_address=("192.0.2.9", 1000))
    one, two = {"x-forwarded-for": "198.51.100.1"}, {"x-forwarded-for": "198.51.100.2"}
    assert hits(proxy, "/x", 2, headers=one) == [200, 429]
    assert hits(proxy, "/x", 2, headers=two) == [200, 429]  # another client behind the proxy
    # from an untrusted peer the header changes nothing: its own address is the key
    assert hits(stranger, "/x", 2, headers=two) == [200, 429]
