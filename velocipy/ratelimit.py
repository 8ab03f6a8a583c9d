"""Rate limits on routes, routers, apps, WebSocket handshakes and WebSocket messages.

A :class:`RateLimit` counts requests per client key (address, user, API key or a function) in
a :class:`~velocipy.stores.Store`: in memory for one process, on Redis for one budget shared by
every worker and machine. Over the limit the request gets a 429 with ``Retry-After`` and the
IETF ``RateLimit`` / ``RateLimit-Policy`` fields; allowed responses carry the fields too.

If the store cannot be reached, ``on_store_error="open"`` (the default) lets requests through
and ``"closed"`` answers 503 with ``Retry-After``; either way one warning is logged when the
outage starts (and not again until the store has answered once more), and nothing is a 500.

Routes that use no limit pay nothing: limits are wrapped around a route's endpoint when the
route is registered, never looked up per request.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

from velocipy.exceptions import HTTPException
from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.stores import NamespacedStore, Store, StoreUnavailable
from velocipy.stores.memory import MemoryStore

if TYPE_CHECKING:
    from velocipy.params import Endpoint
    from velocipy.websockets import WebSocket

__all__ = ["RateLimit", "RateLimitMiddleware", "RateLimitResult"]

logger = logging.getLogger("velocipy.ratelimit")

Algorithm: TypeAlias = Literal["fixed_window", "sliding_window", "token_bucket"]
# A Request for HTTP routes, a WebSocket for handshakes: both are Connections.
KeyFunction: TypeAlias = Callable[[Any], "str | Awaitable[str | None] | None"]
_ALGORITHMS = ("fixed_window", "sliding_window", "token_bucket")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_STORE_RETRY_SECONDS = 1.0  # after a failure the store is not asked again for this long


class _Outage:
    """Whether the store is failing: retried after ``retry_at``, logged once per outage."""

    __slots__ = ("logged", "retry_at")

    def __init__(self) -> None:
        self.logged = False
        self.retry_at = 0.0


class RateLimitResult(NamedTuple):
    """One request counted: allowed or not, what is left, and when to come back."""

    allowed: bool
    remaining: int
    reset: float  # seconds until the budget is whole again (fixed/sliding: the window's end)
    retry_after: float  # seconds until the next request may pass (0 when allowed)


class RateLimit:
    """``limit`` requests per ``per`` seconds for each client key.

    ``key`` is ``"ip"`` (the client address; put ``ProxyHeadersMiddleware`` first behind a
    proxy), ``"user"`` (``request.state.user``: its ``id``, ``username`` or ``str()``; anonymous
    requests fall back to the address), ``"api_key"`` (the ``api_key_header`` value, hashed;
    falls back to the address) or a function ``key(request) -> str | None`` (sync or async;
    ``None`` exempts the request). ``exempt`` lists paths that are never limited (a trailing
    ``*`` matches a prefix).

    The budget is shared by every route that uses this object under the same ``name``: a
    route's limit defaults to a name of its own (method and path), a router's to one per router,
    the app middleware's to ``"app"``. Give ``name=`` yourself to share one budget.
    """

    def __init__(
        self,
        limit: int,
        per: float | str = 60.0,
        *,
        algorithm: Algorithm = "fixed_window",
        key: Literal["ip", "user", "api_key"] | KeyFunction = "ip",
        store: Store | None = None,
        name: str | None = None,
        on_store_error: Literal["open", "closed"] = "open",
        exempt: Sequence[str] = (),
        api_key_header: str = "x-api-key",
    ) -> None:
        if type(limit) is not int or limit < 1:
            raise ValueError(f"a rate limit is a whole number of requests >= 1, not {limit!r}")
        seconds = _UNITS.get(per.rstrip("s")) if isinstance(per, str) else per
        if seconds is None or not seconds > 0:
            raise ValueError(
                f"per={per!r}: give seconds (> 0) or one of 'second', 'minute', 'hour', 'day'"
            )
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm={algorithm!r}: use one of {', '.join(_ALGORITHMS)}")
        if on_store_error not in ("open", "closed"):
            raise ValueError("on_store_error must be 'open' (let requests in) or 'closed' (503)")
        if isinstance(key, str) and key not in ("ip", "user", "api_key"):
            raise ValueError(f"key={key!r}: use 'ip', 'user', 'api_key' or a function")
        self.limit = limit
        self.per = float(seconds)
        self.algorithm: Algorithm = algorithm
        self.key = key
        self.store: Store = store if store is not None else MemoryStore()
        self.name = name
        self.on_store_error = on_store_error
        self.exempt = tuple(exempt)
        self.api_key_header = api_key_header
        self._counters = self.store.namespace("ratelimit")
        self._redis = _redis_of(self._counters)
        self._scripts: dict[str, Any] = {}  # Lua source -> registered script, per client
        self._outage = _Outage()  # shared by the copies named() makes: one log line per outage
        self._exact_exempt = frozenset(p for p in self.exempt if not p.endswith("*"))
        self._prefix_exempt = tuple(p[:-1] for p in self.exempt if p.endswith("*"))

    def __repr__(self) -> str:
        return f"RateLimit({self.limit}, per={self.per:g}, algorithm={self.algorithm!r})"

    def named(self, name: str) -> RateLimit:
        """This limit with its own budget under ``name`` (unless it already has a name)."""
        if self.name is not None:
            return self
        copy = object.__new__(RateLimit)
        copy.__dict__.update(self.__dict__)
        copy.name = name
        return copy

    @property
    def policy(self) -> str:
        """The policy's name in the ``RateLimit`` fields (a quoted structured-field string)."""
        return '"' + re.sub(r'["\\]', "_", self.name or "default") + '"'

    # --- counting ---------------------------------------------------------------------------
    def is_exempt(self, path: str) -> bool:
        return path in self._exact_exempt or path.startswith(self._prefix_exempt or ("\x00",))

    async def client_key(self, connection: Connection) -> str | None:
        """Whom this request counts for; ``None``: not limited."""
        key = self.key
        if callable(key):
            value = key(connection)
            if inspect.isawaitable(value):
                value = await value
            return None if value is None else f"fn:{value}"
        if key == "user":
            user = getattr(connection.state, "user", None)
            if user is not None:
                ident = getattr(user, "id", None) or getattr(user, "username", None) or user
                return f"user:{ident}"
        elif key == "api_key":
            api_key = connection.headers.get(self.api_key_header)
            if api_key:
                return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
        client = connection.client
        return f"ip:{client.host if client is not None else 'unknown'}"

    async def hit(self, client: str) -> RateLimitResult | None:
        """Count one request for ``client``; ``None`` if the store is down (see the fail mode)."""
        now = time.monotonic()
        outage = self._outage
        if now < outage.retry_at:
            return None
        key = f"{self.name or 'default'}:{client}"
        try:
            if self.algorithm == "fixed_window":
                result = await self._fixed_window(key)
            elif self.algorithm == "sliding_window":
                result = await self._sliding_window(key)
            else:
                result = await self._token_bucket(key)
        except StoreUnavailable as exc:
            outage.retry_at = now + _STORE_RETRY_SECONDS
            if not outage.logged:
                outage.logged = True
                mode = "letting requests through" if self.on_store_error == "open" else "503"
                logger.warning("rate limit %s: store unavailable, %s (%s)", self.policy, mode, exc)
            return None
        if outage.logged:
            outage.logged = False
            logger.info("rate limit %s: store available again", self.policy)
        return result

    async def _count_in_window(self, key: str, sliding: bool) -> tuple[int, int, float]:
        """Count one request in the current window: (its count, the previous window's count,
        seconds since the window began). Sliding: a refused request is given back."""
        if self._redis is not None:  # one script, on Redis's clock, for every machine
            count, previous, elapsed = await self._run_script(
                _WINDOWS, key, [repr(self.per), self.limit, int(sliding)]
            )
            return int(count), int(previous), float(elapsed)
        now = time.time()
        window = math.floor(now / self.per)
        elapsed = now - window * self.per
        count = await self._counters.increment(f"{key}:{window}", ttl=2 * self.per)
        previous = 0
        if sliding:
            raw = await self._counters.get(f"{key}:{window - 1}")
            previous = int(raw) if raw else 0
            if previous * (1 - elapsed / self.per) + count > self.limit:
                await self._counters.increment(f"{key}:{window}", -1)
        return count, previous, elapsed

    async def _fixed_window(self, key: str) -> RateLimitResult:
        count, _, elapsed = await self._count_in_window(key, sliding=False)
        reset = self.per - elapsed
        if count <= self.limit:
            return RateLimitResult(True, self.limit - count, reset, 0.0)
        return RateLimitResult(False, 0, reset, reset)

    async def _sliding_window(self, key: str) -> RateLimitResult:
        """Two fixed windows, the previous one weighted by how much of it still overlaps."""
        count, previous, elapsed = await self._count_in_window(key, sliding=True)
        used = previous * (1 - elapsed / self.per) + count
        if used <= self.limit:
            remaining = max(0, math.floor(self.limit - used))
            return RateLimitResult(True, remaining, self.per - elapsed, 0.0)
        excess = used - self.limit  # drains as the previous window slides out
        wait = excess * self.per / previous if previous else self.per - elapsed
        wait = min(wait, self.per - elapsed) if count > self.limit else wait
        return RateLimitResult(False, 0, self.per - elapsed, max(wait, 0.001))

    async def _token_bucket(self, key: str) -> RateLimitResult:
        """``limit`` tokens, refilled at ``limit / per`` a second; a request takes one."""
        rate = self.limit / self.per
        if self._redis is not None:
            allowed, raw_tokens = await self._run_script(
                _TOKEN_BUCKET, key, [self.limit, repr(rate)]
            )
            allowed, tokens = bool(allowed), float(raw_tokens)
        else:
            # Atomic on MemoryStore (nothing awaited between get and set suspends the loop);
            # on another store of your own, two workers may both take the last token.
            now = time.time()
            raw = await self._counters.get(key)
            tokens, at = (float(v) for v in raw.split(b":")) if raw else (self.limit, now)
            tokens = min(float(self.limit), tokens + (now - at) * rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            await self._counters.set(key, f"{tokens}:{now}".encode(), ttl=self.per)
        reset = (self.limit - tokens) / rate
        if allowed:
            return RateLimitResult(True, math.floor(tokens), reset, 0.0)
        return RateLimitResult(False, 0, reset, (1 - tokens) / rate)

    async def _run_script(self, source: str, key: str, args: list[Any]) -> Any:
        """Run one of this module's Lua scripts on the RedisStore under this limit's store."""
        assert self._redis is not None
        store, prefix = self._redis
        client = store.client
        scripts = self._scripts
        if scripts.get("client") is not client:  # a new client (after close()): register again
            scripts.clear()
            scripts["client"] = client
        script = scripts.get(source)
        if script is None:
            script = scripts[source] = client.register_script(source)
        try:
            return await script(keys=[store.key_prefix + prefix + key], args=args)
        except Exception as exc:  # redis-py's errors: the store is the one that knows them
            if isinstance(exc, (OSError, TimeoutError)) or "redis" in type(exc).__module__:
                raise store._unavailable(exc) from exc
            raise

    # --- answering ---------------------------------------------------------------------------
    def fields(self, result: RateLimitResult) -> list[tuple[str, str]]:
        """The IETF ``RateLimit-Policy`` and ``RateLimit`` fields for ``result``."""
        return [
            ("ratelimit-policy", f"{self.policy};q={self.limit};w={math.ceil(self.per)}"),
            ("ratelimit", f"{self.policy};r={result.remaining};t={math.ceil(result.reset)}"),
        ]

    def refusal(self, result: RateLimitResult | None) -> HTTPException:
        if result is None:
            return HTTPException(
                503,
                "Rate limiting is unavailable (its store cannot be reached); retry shortly",
                {"retry-after": "1"},
            )
        retry = max(1, math.ceil(result.retry_after))
        headers = dict(self.fields(result))
        headers["retry-after"] = str(retry)
        return HTTPException(
            429,
            f"Rate limit exceeded: {self.limit} per {self.per:g} seconds; retry in {retry} s",
            headers,
        )

    async def enforce(self, connection: Connection) -> RateLimitResult | None:
        """Count ``connection``; raise the 429 (or the fail-closed 503); ``None``: not counted."""
        if self.exempt and self.is_exempt(connection.path):
            return None
        client = await self.client_key(connection)
        if client is None:
            return None
        result = await self.hit(client)
        if result is None:
            if self.on_store_error == "closed":
                raise self.refusal(None)
            return None
        if not result.allowed:
            raise self.refusal(result)
        return result


def limits_of(value: RateLimit | Sequence[RateLimit]) -> tuple[RateLimit, ...]:
    limits = (value,) if isinstance(value, RateLimit) else tuple(value)
    for item in limits:
        if not isinstance(item, RateLimit):
            raise TypeError(f"rate_limit takes RateLimit objects, not {type(item).__name__}")
    return limits


async def _enforce_all(limits: tuple[RateLimit, ...], connection: Connection) -> list[Any]:
    """Count the request in every limit; the fields to send: every policy in
    ``RateLimit-Policy`` (a list), and in ``RateLimit`` (one item) the policy with the least
    remaining, as the IETF draft asks."""
    policies: list[str] = []
    tightest: tuple[RateLimit, RateLimitResult] | None = None
    for limit in limits:
        result = await limit.enforce(connection)
        if result is None:
            continue
        policies.append(limit.fields(result)[0][1])
        if tightest is None or result.remaining < tightest[1].remaining:
            tightest = (limit, result)
    if tightest is None:
        return []
    return [("ratelimit-policy", ", ".join(policies)), tightest[0].fields(tightest[1])[1]]


def limited_endpoint(endpoint: Endpoint, limits: tuple[RateLimit, ...], scope: str) -> Endpoint:
    """``endpoint`` behind ``limits``, each named after ``scope`` unless it has a name."""
    from velocipy.params import Endpoint

    limits = tuple(limit.named(scope) for limit in limits)
    invoke, respond, takes_request = endpoint.invoke, endpoint.respond, endpoint.takes_request

    async def invoke_limited(request: Request) -> Response:
        fields = await _enforce_all(limits, request)
        response = respond(await (invoke(request) if takes_request else invoke()))
        if fields:
            response.raw_headers.extend(fields)
        return response

    return Endpoint(invoke_limited, plan=endpoint.plan)


def limited_websocket(
    handler: Callable[[WebSocket], Awaitable[None]],
    handshakes: tuple[RateLimit, ...],
    messages: RateLimit | None,
    scope: str,
) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
    """A WebSocket handler behind a handshake limit (429) and a per-connection message limit."""
    handshakes = tuple(limit.named(scope) for limit in handshakes)

    async def handle_limited(websocket: WebSocket) -> None:
        if handshakes:
            try:
                await _enforce_all(handshakes, websocket)
            except HTTPException as refused:
                headers = list((refused.headers or {}).items())
                await websocket.refuse(refused.status_code, headers, str(refused.detail).encode())
                return
        if messages is not None:
            _count_messages(websocket, messages)
        await handler(websocket)

    return handle_limited


def _count_messages(websocket: WebSocket, limit: RateLimit) -> None:
    """Close the connection with 1008 when it sends more than ``limit`` allows (a token bucket
    of this connection's own, in memory: the count belongs to one connection)."""
    rate = limit.limit / limit.per
    bucket = [float(limit.limit), time.monotonic()]
    reason = f"message rate limit exceeded: {limit.limit} per {limit.per:g} s"

    async def count(websocket: WebSocket) -> None:
        now = time.monotonic()
        tokens = min(float(limit.limit), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            await websocket._fail(1008, reason)
        bucket[0] = tokens - 1

    websocket._message_check = count
    websocket._unmeasured_length = -1  # every message takes the checked path


class RateLimitMiddleware(Middleware):
    """One limit (or several) for every request and WebSocket handshake of the app.

    ``app.add_middleware(RateLimitMiddleware, limit=RateLimit(100, "minute", exempt=["/health"]))``
    """

    def __init__(self, limit: RateLimit | Sequence[RateLimit]) -> None:
        self.limits = tuple(item.named("app") for item in limits_of(limit))

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        fields = await _enforce_all(self.limits, request)
        response = await call_next(request)
        if fields:
            response.raw_headers.extend(fields)
        return response

    async def handshake(self, websocket: WebSocket) -> Response | None:
        try:
            await _enforce_all(self.limits, websocket)
        except HTTPException as refused:
            return Response(str(refused.detail), refused.status_code, refused.headers)
        return None

    def __repr__(self) -> str:
        return f"RateLimitMiddleware({', '.join(map(repr, self.limits))})"


def _redis_of(store: Store) -> tuple[Any, str] | None:
    """The RedisStore under ``store`` and the key prefix its namespaces add, if it is one."""
    prefix = ""
    while isinstance(store, NamespacedStore):
        prefix = store.prefix + prefix
        store = store.store
    if type(store).__name__ == "RedisStore":  # not imported here: redis-py is optional
        return store, prefix
    return None


# Fixed and sliding windows on Redis, on Redis's clock (one window for every machine): the
# current window's count, the previous one's (sliding), seconds into the window.
_WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = math.floor(now / per)
local elapsed = now - window * per
local current = KEYS[1] .. ':' .. string.format('%d', window)
local count = redis.call('INCR', current)
if count == 1 then
  redis.call('PEXPIRE', current, math.ceil(per * 2000))
end
local previous = 0
if ARGV[3] == '1' then
  previous = tonumber(redis.call('GET', KEYS[1] .. ':' .. string.format('%d', window - 1)) or '0')
  if previous * (1 - elapsed / per) + count > limit then
    redis.call('DECR', current)
  end
end
return {count, previous, string.format('%.6f', elapsed)}
"""

# The token bucket on Redis, on Redis's clock: state "tokens:at" under one key.
_TOKEN_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local tokens, at = capacity, now
local raw = redis.call('GET', KEYS[1])
if raw then
  local sep = string.find(raw, ':', 1, true)
  tokens = tonumber(string.sub(raw, 1, sep - 1))
  at = tonumber(string.sub(raw, sep + 1))
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('SET', KEYS[1], string.format('%.17g:%.17g', tokens, now),
  'PX', math.ceil(capacity / rate * 1000) + 1000)
return {allowed, string.format('%.17g', tokens)}
"""
