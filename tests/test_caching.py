"""The response cache and dynamic ETags in process, on ASGI and RSGI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import pytest

import velocipy.stores.memory
from velocipy import Request, Response, VelociPy
from velocipy.caching import ResponseCache, weak_etag
from velocipy.exceptions import HTTPException
from velocipy.responses import StreamingResponse
from velocipy.stores import StoreUnavailable
from velocipy.stores.memory import MemoryStore
from velocipy.testing import TestClient

Client = Callable[..., TestClient]


def test_hits_skip_the_handler_keyed_by_path_query_and_vary(client_for: Client) -> None:
    app = VelociPy()
    cache = ResponseCache(ttl=60)
    runs: list[str] = []

    @app.get("/items", cache=cache.with_options(vary=["accept-language"]))
    async def items(request: Request, q: str = "") -> dict[str, object]:
        runs.append(q)
        return {"q": q, "run": len(runs), "lang": request.headers.get("accept-language")}

    client = client_for(app)
    first = client.get("/items?q=a&x=1")
    assert first.json()["run"] == 1
    assert first.headers["cache-control"] == "max-age=60"
    assert first.headers["vary"] == "accept-language"
    again = client.get("/items?x=1&q=a")  # the same query in another order
    assert again.content == first.content
    assert again.headers["age"] == "0"
    assert again.headers["content-type"] == "application/json"
    assert client.head("/items?q=a&x=1").status_code == 200  # HEAD shares GET's entry
    assert len(runs) == 1
    assert client.get("/items?q=b").json()["run"] == 2
    assert client.get("/items?q=a&x=1", headers={"accept-language": "fr"}).json()["run"] == 3
    assert client.get("/items?q=a&x=1", headers={"accept-language": "fr"}).json()["run"] == 3


def test_only_cacheable_responses_are_kept(client_for: Client) -> None:
    app = VelociPy()
    cache = ResponseCache()
    runs = {"cookie": 0, "nostore": 0, "private": 0, "error": 0, "stream": 0, "gone": 0}

    @app.get("/cookie", cache=cache)
    async def cookie() -> Response:
        runs["cookie"] += 1
        response = Response("x")
        response.set_cookie("session", "secret")
        return response

    @app.get("/nostore", cache=cache)
    async def nostore() -> Response:
        runs["nostore"] += 1
        return Response("x", headers={"cache-control": "no-store"})

    @app.get("/private", cache=cache)
    async def private() -> Response:
        runs["private"] += 1
        return Response("x", headers={"Cache-Control": "private, max-age=5"})

    @app.get("/error", cache=cache)
    async def error() -> Response:
        runs["error"] += 1
        raise HTTPException(503, "try later")

    @app.get("/stream", cache=cache)
    async def stream() -> StreamingResponse:
        runs["stream"] += 1

        async def chunks() -> AsyncIterator[bytes]:
            yield b"a"

        return StreamingResponse(chunks())

    @app.get("/gone", cache=cache)
    async def gone() -> Response:
        runs["gone"] += 1
        return Response("gone", 410)

    client = client_for(app)
    for path in runs:
        for _ in range(2):
            client.get(f"/{path}")
    assert runs == {"cookie": 2, "nostore": 2, "private": 2, "error": 2, "stream": 2, "gone": 1}
    assert client.get("/private").headers["cache-control"] == "private, max-age=5"


def test_invalidate_a_path_or_a_prefix_and_ttl(
    client_for: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]  # the memory store's clock, moved by hand: no sleeping, no timing
    monkeypatch.setattr(velocipy.stores.memory, "time", SimpleNamespace(monotonic=lambda: now[0]))
    app = VelociPy()
    cache = ResponseCache(ttl=30)
    runs: dict[str, int] = {}

    @app.get("/users/{uid}", cache=cache)
    async def user(uid: int) -> dict[str, int]:
        runs[str(uid)] = runs.get(str(uid), 0) + 1
        return {"runs": runs[str(uid)]}

    client = client_for(app)
    for uid in (1, 2, 10):
        client.get(f"/users/{uid}")
        client.get(f"/users/{uid}?v=1")
    assert runs == {"1": 2, "2": 2, "10": 2}
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(cache.invalidate("/users/1")) == 2  # not /users/10
        assert client.get("/users/10").json() == {"runs": 1}  # still the cached first run
        assert client.get("/users/1").json() == {"runs": 3}
        assert loop.run_until_complete(cache.invalidate_prefix("/users/")) == 5
    finally:
        loop.close()
    assert client.get("/users/2").json() == {"runs": 3}
    assert client.get("/users/2").json() == {"runs": 3}
    now[0] += 29.9  # just inside the TTL: still a hit
    assert client.get("/users/2").json() == {"runs": 3}
    now[0] += 0.2  # past it
    assert client.get("/users/2").json() == {"runs": 4}


def test_concurrent_misses_compute_once_and_share_errors() -> None:
    app = VelociPy()
    cache = ResponseCache()
    runs: list[int] = []

    @app.get("/slow", cache=cache)
    async def slow() -> dict[str, int]:
        runs.append(1)
        await asyncio.sleep(0.1)
        return {"runs": len(runs)}

    @app.get("/fails", cache=cache)
    async def fails() -> dict[str, int]:
        runs.append(2)
        await asyncio.sleep(0.1)
        raise HTTPException(404, "no such thing")

    async def scenario() -> None:
        from velocipy.testing import AsyncTestClient

        async with AsyncTestClient(app) as client:
            answers = await asyncio.gather(*(client.get("/slow") for _ in range(20)))
            assert {a.json()["runs"] for a in answers} == {1}
            assert runs == [1]
            failed = await asyncio.gather(*(client.get("/fails") for _ in range(5)))
            assert [f.status_code for f in failed] == [404] * 5
            assert runs == [1, 2]  # one run for five concurrent misses, and its error for all

    asyncio.run(scenario())


def test_etag_from_the_body_answers_304(client_for: Client) -> None:
    app = VelociPy()
    body = {"v": 1}

    @app.get("/doc", etag=True)
    async def doc() -> dict[str, int]:
        return body

    client = client_for(app)
    first = client.get("/doc")
    tag = first.headers["etag"]
    assert tag == weak_etag(first.content)
    assert tag.startswith('W/"')
    same = client.get("/doc", headers={"if-none-match": tag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == tag
    strong_form = tag.removeprefix("W/")  # weak comparison: the strong form matches too
    assert client.get("/doc", headers={"if-none-match": f'"x", {strong_form}'}).status_code == 304
    assert client.get("/doc", headers={"if-none-match": '"other"'}).status_code == 200
    body["v"] = 2
    changed = client.get("/doc", headers={"if-none-match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_a_version_answers_304_before_the_handler_runs(client_for: Client) -> None:
    app = VelociPy()
    state = {"version": 7, "runs": 0}

    async def version(request: Request) -> str:
        return f"v{state['version']}"

    @app.get("/article", etag=version, cache=ResponseCache())
    async def article() -> dict[str, int]:
        state["runs"] += 1
        return {"version": state["version"]}

    client = client_for(app)
    first = client.get("/article")
    assert first.headers["etag"] == 'W/"v7"'
    assert state["runs"] == 1
    for _ in range(3):
        assert client.get("/article", headers={"if-none-match": 'W/"v7"'}).status_code == 304
    assert state["runs"] == 1
    assert client.get("/article").headers["etag"] == 'W/"v7"'  # a cache hit keeps its ETag
    assert client.get("/article", headers={"if-none-match": "*"}).status_code == 304
    assert state["runs"] == 1


def test_cache_store_down_answers_uncached_with_one_log_line(
    client_for: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class DownStore(MemoryStore):
        async def get(self, key: str) -> bytes | None:
            raise StoreUnavailable("Redis at redis://127.0.0.1:1/0 did not answer")

        async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
            raise StoreUnavailable("Redis at redis://127.0.0.1:1/0 did not answer")

    app = VelociPy()
    runs: list[int] = []

    @app.get("/x", cache=ResponseCache(DownStore()))
    async def x() -> dict[str, int]:
        runs.append(1)
        return {"runs": len(runs)}

    client = client_for(app)
    with caplog.at_level(logging.INFO, "velocipy"):
        assert [client.get("/x").status_code for _ in range(4)] == [200] * 4
    assert len(runs) == 4
    lines = [r for r in caplog.records if r.name.startswith("velocipy")]
    assert [r.getMessage().split(":")[0] for r in lines] == ["response cache"]


def test_cache_and_etag_refuse_routes_they_cannot_serve() -> None:
    app = VelociPy()
    with pytest.raises(ValueError, match=r"apply to GET and HEAD routes, not \['POST'\]"):
        app.post("/x", cache=ResponseCache())(lambda: None)
    with pytest.raises(TypeError, match="cache= takes a ResponseCache, not int"):
        app.get("/y", cache=60)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds, not 0"):
        ResponseCache(ttl=0)


def test_keys_cannot_be_imitated_and_long_ones_are_hashed(client_for: Client) -> None:
    app = VelociPy()
    cache = ResponseCache(vary=["x-v"])
    runs: list[str] = []

    @app.get("/{rest:path}", cache=cache)
    async def anything(request: Request, rest: str) -> dict[str, str]:
        runs.append(rest)
        return {"rest": rest, "query": request.query_string}

    client = client_for(app)
    assert client.get("/a?x", headers={"x-v": "1"}).json() == {"rest": "a", "query": "x"}
    # a path with an encoded newline and % spells another key, whatever it imitates
    assert client.get("/a%0Ax", headers={"x-v": "1"}).json()["rest"] == "a\nx"
    assert client.get("/a%250Ax", headers={"x-v": "1"}).json()["rest"] == "a%0Ax"
    assert len(runs) == 3
    long_query = "q=" + "x" * 5000
    assert client.get(f"/b?{long_query}").json()["query"] == long_query
    assert client.get(f"/b?{long_query}").json()["query"] == long_query
    assert runs.count("b") == 1
    keys = list(cache.store._data)  # type: ignore[attr-defined]
    assert all(len(key) < 700 for key in keys)
    assert asyncio.run(cache.invalidate("/a\nx")) == 1  # the newline path only, not /a
    assert client.get("/a?x", headers={"x-v": "1"}).json() == {"rest": "a", "query": "x"}
    assert len(runs) == 4


def test_openapi_describes_the_304_of_etag_routes() -> None:
    app = VelociPy()

    @app.get("/tagged", etag=True)
    async def tagged() -> dict[str, int]:
        return {}

    @app.get("/plain")
    async def plain() -> dict[str, int]:
        return {}

    paths = app.openapi()["paths"]
    assert paths["/tagged"]["get"]["responses"]["304"]["description"].startswith("Not Modified")
    assert "304" not in paths["/plain"]["get"]["responses"]


def test_a_cancelled_first_request_leaves_the_waiting_ones_to_compute() -> None:
    async def scenario() -> None:
        cache = ResponseCache()
        runs: list[int] = []
        started = asyncio.Event()

        async def produce() -> Response:
            runs.append(1)
            started.set()
            await asyncio.sleep(0.2 if len(runs) == 1 else 0)
            return Response(f"run {len(runs)}")

        first = asyncio.create_task(cache.fetch("k", produce))
        await started.wait()
        second = asyncio.create_task(cache.fetch("k", produce))
        await asyncio.sleep(0.01)
        first.cancel()  # its client left
        answer = await second
        assert answer.body == b"run 2"  # the waiting request computed it, not an error
        assert first.cancelled()
        assert (await cache.fetch("k", produce)).body == b"run 2"  # and it was stored
        assert len(runs) == 2

    asyncio.run(scenario())
