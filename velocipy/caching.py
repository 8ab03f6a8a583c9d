"""Response caching and ETags for dynamic responses, on a :class:`~velocipy.stores.Store`.

``@app.get("/items", cache=ResponseCache(ttl=30))`` answers repeated GET/HEAD requests from the
store without running the handler: in memory for one process, on Redis for every worker and
machine. The key is the method, path, sorted query and the request headers named in ``vary``.
Only cacheable responses are kept (a cacheable status, a complete body, no ``Set-Cookie``, no
``Cache-Control: no-store / private / no-cache``). Concurrent misses compute once (in a process
by waiting for the first, across processes by a short lock in the store). Hits carry ``Age``;
every cached route sends ``Cache-Control: max-age`` unless the handler set its own.

``etag=True`` adds a weak ETag made from the body and answers a matching ``If-None-Match``
with 304. ``etag=version`` (a function of the request, sync or async, returning a version
string or ``None``) makes the ETag from the version and answers 304 *before the handler runs*.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

import msgspec

from velocipy.json import JSONAdapter
from velocipy.requests import Request
from velocipy.responses import JSONResponse, Response
from velocipy.stores import Store, StoreUnavailable
from velocipy.stores.memory import MemoryStore

if TYPE_CHECKING:
    from velocipy.params import Endpoint
    from velocipy.routers import RouteOptions

__all__ = ["ResponseCache", "weak_etag"]

logger = logging.getLogger("velocipy.caching")

CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
_UNCACHEABLE_DIRECTIVES = ("no-store", "private", "no-cache")
_POLL_SECONDS = 0.02
_LONGEST_KEY_PART = 512  # query and vary values longer than this are hashed in the key
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _quoted(path: str) -> str:
    return quote(path, safe=_PATH_SAFE)


class ResponseCache:
    """A response cache on ``store`` (default: this process's memory) with ``ttl`` seconds.

    One object may serve many routes; :meth:`with_options` gives a route its own ``ttl`` or
    ``vary`` on the same store. Invalidate with :meth:`invalidate` (one path, every query and
    variant) or :meth:`invalidate_prefix`.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        ttl: float = 60.0,
        vary: Sequence[str] = (),
        namespace: str = "cache",
        lock_timeout: float = 10.0,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.store: Store = store if store is not None else MemoryStore()
        self.ttl = float(ttl)
        self.vary = tuple(name.lower() for name in vary)
        self.lock_timeout = lock_timeout
        self._entries = self.store.namespace(namespace)
        self._inflight: dict[str, asyncio.Future[Response]] = {}
        self._store_down = False

    def with_options(
        self, *, ttl: float | None = None, vary: Sequence[str] | None = None
    ) -> ResponseCache:
        """This cache (same store and keys) with another ``ttl`` or ``vary`` for one route."""
        copy = object.__new__(ResponseCache)
        copy.__dict__.update(self.__dict__)
        if ttl is not None:
            if not ttl > 0:
                raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
            copy.ttl = float(ttl)
        if vary is not None:
            copy.vary = tuple(name.lower() for name in vary)
        copy._inflight = {}
        return copy

    # --- keys and invalidation ------------------------------------------------------------------
    def key_for(self, request: Request) -> str:
        """``GET <path>\n<sorted query>\n<vary header values>`` (HEAD shares GET's entry).

        The path is percent-encoded (one spelling per path, no newline a client could use to
        imitate another key); a long query and header part is hashed, so keys stay short.
        """
        query = "&".join(sorted(request.query_string.split("&"))) if request.query_string else ""
        varied = "\n".join(request.headers.get(name, "") for name in self.vary)
        rest = f"{query}\n{varied}"
        if len(rest) > _LONGEST_KEY_PART:
            rest = "#" + hashlib.blake2b(rest.encode(), digest_size=20).hexdigest()
        return f"GET {_quoted(request.path)}\n{rest}"

    async def invalidate(self, path: str) -> int:
        """Forget every cached answer for ``path`` (all queries and variants); how many."""
        return await self._entries.delete_prefix(f"GET {_quoted(path)}\n")

    async def invalidate_prefix(self, prefix: str) -> int:
        """Forget every cached answer whose path starts with ``prefix``; how many."""
        return await self._entries.delete_prefix(f"GET {_quoted(prefix)}")

    # --- looking up and storing ------------------------------------------------------------
    async def fetch(self, key: str, produce: Callable[[], Awaitable[Response]]) -> Response:
        """The cached response for ``key``, or ``produce()``'s (stored if cacheable)."""
        cached = await self._get(key)
        if cached is not None:
            return cached
        running = self._inflight.get(key)
        if running is not None:  # another request of this process is computing it
            try:
                first = await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise  # this request itself is being cancelled
                return await self.fetch(key, produce)  # the first one left: take its place
            return _copy(first) if first.kind == "bytes" else await produce()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            response = await self._produce_once(key, produce)
        except asyncio.CancelledError:
            future.cancel()  # the waiting requests compute it themselves
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: followers re-raise it, nobody logs it twice
            raise
        else:
            future.set_result(response)
            return _copy(response) if response.kind == "bytes" else response
        finally:
            del self._inflight[key]

    async def _produce_once(self, key: str, produce: Callable[[], Awaitable[Response]]) -> Response:
        """Across processes: the one that takes the lock computes, the others wait for it."""
        lock = f"lock:{key}"
        try:
            holder = await self._entries.add(lock, b"1", ttl=self.lock_timeout)
        except StoreUnavailable as exc:
            self._note_outage(exc)
            return await produce()
        if not holder:
            deadline = time.monotonic() + self.lock_timeout
            while time.monotonic() < deadline:
                await asyncio.sleep(_POLL_SECONDS)
                cached = await self._get(key)
                if cached is not None:
                    return cached
                try:
                    if await self._entries.get(lock) is None:
                        break  # the holder stored nothing (not cacheable) or died
                except StoreUnavailable:
                    break
        try:
            response = await produce()
            if self.cacheable(response):
                self._add_cache_control(response)
                await self._put(key, response)
            return response
        finally:
            if holder:
                try:
                    await self._entries.delete(lock)
                except StoreUnavailable:
                    pass

    def cacheable(self, response: Response) -> bool:
        if response.status_code not in CACHEABLE_STATUSES or response.kind != "bytes":
            return False
        for name, value in response.raw_headers:
            lowered = name.lower()
            if lowered == "set-cookie":
                return False
            if lowered == "cache-control" and any(
                directive in value.lower() for directive in _UNCACHEABLE_DIRECTIVES
            ):
                return False
            if lowered == "vary" and value.strip() == "*":
                return False
        return True

    def _add_cache_control(self, response: Response) -> None:
        if not any(name.lower() == "cache-control" for name, _ in response.raw_headers):
            response.raw_headers.append(("cache-control", f"max-age={int(self.ttl)}"))
        if self.vary:
            from velocipy.middleware.base import add_vary

            for name in self.vary:
                add_vary(response, name)

    async def _get(self, key: str) -> Response | None:
        try:
            raw = await self._entries.get(key)
        except StoreUnavailable as exc:
            self._note_outage(exc)
            return None
        self._store_down = False  # answered: the next outage is logged again
        if raw is None:
            return None
        status, headers, body, created = msgspec.msgpack.decode(raw)
        response = Response(body, status)
        response.raw_headers = [(name, value) for name, value in headers]
        response.raw_headers.append(("age", str(max(0, int(time.time() - created)))))
        return response

    async def _put(self, key: str, response: Response) -> None:
        entry = msgspec.msgpack.encode(
            (response.status_code, response.raw_headers, response.body, time.time())
        )
        try:
            await self._entries.set(key, entry, ttl=self.ttl)
        except StoreUnavailable as exc:
            self._note_outage(exc)

    def _note_outage(self, exc: StoreUnavailable) -> None:
        if not self._store_down:
            self._store_down = True
            logger.warning("response cache: store unavailable, answering uncached (%s)", exc)


def _copy(response: Response) -> Response:
    """A response of its own for each waiting request (headers are changed per request)."""
    copy = Response(response.body, response.status_code)
    copy.raw_headers = list(response.raw_headers)
    return copy


def weak_etag(data: bytes | str) -> str:
    """``W/"..."``: a weak validator from a body (bytes) or a version (str)."""
    if isinstance(data, str):
        safe = "".join(ch for ch in data if ch.isascii() and ch.isprintable() and ch != '"')
        if safe and len(safe) <= 64:
            return f'W/"{safe}"'
        data = data.encode()
    return f'W/"{hashlib.blake2b(data, digest_size=12).hexdigest()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` compared weakly (RFC 9110 13.1.2): ``*`` or any listed tag."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def _not_modified(response_headers: list[tuple[str, str]]) -> Response:
    """304 with the validator and caching headers of the response it stands for."""
    kept = {"etag", "cache-control", "vary", "expires", "content-location", "date"}
    not_modified = Response(None, 304)
    not_modified.raw_headers = [(n, v) for n, v in response_headers if n.lower() in kept]
    return not_modified


def cached_endpoint(
    endpoint: Endpoint, methods: Sequence[str], options: RouteOptions, json: JSONAdapter
) -> Endpoint:
    """``endpoint`` behind the route's ``cache`` and ``etag`` options (GET and HEAD only)."""
    from velocipy.params import Endpoint

    cache = options.get("cache")
    etag = options.get("etag")
    if cache is not None and not isinstance(cache, ResponseCache):
        raise TypeError(f"cache= takes a ResponseCache, not {type(cache).__name__}")
    if not {"GET", "HEAD"} & set(methods):
        raise ValueError(f"cache= and etag= apply to GET and HEAD routes, not {list(methods)}")
    version = etag if callable(etag) else None
    invoke, respond, takes_request = endpoint.invoke, endpoint.respond, endpoint.takes_request

    async def produce(request: Request, tag: str | None) -> Response:
        response = respond(await (invoke(request) if takes_request else invoke()))
        if isinstance(response, JSONResponse) and response.body is None:
            response.render_json(json.encode)
        if (
            etag
            and 200 <= response.status_code < 300
            and response.kind == "bytes"
            and not any(n.lower() == "etag" for n, _ in response.raw_headers)
        ):
            response.raw_headers.append(("etag", tag or weak_etag(response.body)))
        return response

    async def invoke_cached(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return await produce(request, None)
        tag = None
        if version is not None:
            current = version(request)
            if inspect.isawaitable(current):
                current = await current
            if current is not None:
                tag = weak_etag(str(current))
                if _matches(request.header("if-none-match"), tag):
                    return _not_modified([("etag", tag)])  # the handler never runs
        if cache is not None:
            response = await cache.fetch(cache.key_for(request), lambda: produce(request, tag))
        else:
            response = await produce(request, tag)
        if etag and 200 <= response.status_code < 300:
            current_tag = next((v for n, v in response.raw_headers if n.lower() == "etag"), None)
            if current_tag and _matches(request.header("if-none-match"), current_tag):
                return _not_modified(response.raw_headers)
        return response

    return Endpoint(invoke_cached, plan=endpoint.plan)
