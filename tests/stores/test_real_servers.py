"""Rate limits and the response cache on real servers sharing a real redis-server."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.channels.redis_server import RedisServer
from tests.support import SERVERS, ServerProcess, free_port, http_request, running, server_argv

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.stores.apps.limited:app"


@contextlib.contextmanager
def serve(kind: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    port = free_port()
    with running(server_argv(kind, APP, port), port=port, cwd=ROOT, env=env) as server:
        yield server


def post(server: ServerProcess, path: str) -> int:
    return http_request(f"{server.url}{path}", method="POST", data=b"").status


def runs(redis_server: RedisServer) -> int:
    reply = redis_server.command("GET", "velocipy:runs:items")
    return 0 if reply.startswith(b"$-1") else int(reply.split(b"\r\n")[1])


def away_from_a_minute_boundary() -> None:
    """A fixed window is a calendar minute: keep a burst inside one (not a timing assert)."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.1)


def no_tracebacks(*servers: ServerProcess) -> None:
    for server in servers:
        assert "Traceback" not in server.output(), server.output()


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window", "token_bucket"])
def test_two_servers_let_through_exactly_the_shared_limit(
    redis_server: RedisServer, algorithm: str
) -> None:
    env = {
        "VELOCIPY_TEST_STORE": redis_server.url,
        "VELOCIPY_TEST_LIMIT": "10",
        "VELOCIPY_TEST_ALGORITHM": algorithm,
    }
    redis_server.command("FLUSHALL")
    with serve("uvicorn", env) as asgi, serve("granian-rsgi", env) as rsgi:
        for split in ((asgi, rsgi), (asgi, asgi, asgi, rsgi), (rsgi,)):
            redis_server.command("FLUSHALL")  # a fresh budget for each way of splitting
            away_from_a_minute_boundary()
            targets = [split[n % len(split)] for n in range(30)]
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda s: post(s, "/write"), targets))
            assert statuses.count(200) == 10, (split, statuses)
            assert statuses.count(429) == 20
        refused = http_request(f"{rsgi.url}/write", method="POST", data=b"")
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-policy"] == '"burst";q=10;w=60'
        assert refused.headers["ratelimit"].startswith('"burst";r=0;t=')
        no_tracebacks(asgi, rsgi)


def test_redis_killed_mid_burst_fails_open_or_closed_with_one_line(
    redis_server: RedisServer,
) -> None:
    base = {"VELOCIPY_TEST_STORE": redis_server.url, "VELOCIPY_TEST_LIMIT": "5"}
    redis_server.command("FLUSHALL")
    away_from_a_minute_boundary()
    with (
        serve("uvicorn", {**base, "VELOCIPY_TEST_FAIL": "open"}) as open_server,
        serve("granian-rsgi", {**base, "VELOCIPY_TEST_FAIL": "closed"}) as closed_server,
    ):
        assert [post(open_server, "/write") for _ in range(3)] == [200] * 3
        redis_server.kill()  # mid-burst
        assert [post(open_server, "/write") for _ in range(10)] == [200] * 10  # fail open
        url = f"{closed_server.url}/write"
        closed = [http_request(url, method="POST", data=b"") for _ in range(10)]
        assert [r.status for r in closed] == [503] * 10  # fail closed: never a 500
        assert closed[0].headers["retry-after"] == "1"
        detail = json.loads(closed[0].body)["detail"]
        assert detail == "Rate limiting is unavailable (its store cannot be reached); retry shortly"
        for server in (open_server, closed_server):
            lines = [ln for ln in server.output().splitlines() if "store unavailable" in ln]
            assert len(lines) == 1, server.output()
        redis_server.start()  # an empty Redis on the same port: counting starts again
        time.sleep(1.1)  # the limit asks the store again a second after the failure
        statuses = [post(open_server, "/write") for _ in range(5)]
        statuses += [post(closed_server, "/write") for _ in range(3)]
        assert statuses == [200] * 5 + [429] * 3
        no_tracebacks(open_server, closed_server)


@pytest.mark.parametrize("kind", SERVERS)
def test_cached_route_answers_without_the_handler_until_invalidated_or_expired(
    redis_server: RedisServer, kind: str
) -> None:
    redis_server.command("FLUSHALL")
    env = {"VELOCIPY_TEST_STORE": redis_server.url, "VELOCIPY_TEST_TTL": "2"}
    with serve(kind, env) as server:
        first = http_request(f"{server.url}/items?page=2")
        assert first.status == 200
        assert json.loads(first.body)["run"] == 1
        assert first.headers["cache-control"] == "max-age=2"
        assert "age" not in first.headers
        second = http_request(f"{server.url}/items?page=2")
        assert second.body == first.body  # the same answer, and the handler did not run
        assert runs(redis_server) == 1
        assert int(second.headers["age"]) in (0, 1)
        other = http_request(f"{server.url}/items?page=3")  # another query: another entry
        assert json.loads(other.body)["run"] == 2
        removed = json.loads(http_request(f"{server.url}/items/invalidate", method="POST").body)
        assert removed == {"removed": 2}
        third = http_request(f"{server.url}/items?page=2")
        assert json.loads(third.body)["run"] == 3  # after invalidation the handler runs again
        assert json.loads(http_request(f"{server.url}/items?page=2").body)["run"] == 3
        time.sleep(2.2)  # past the TTL
        assert json.loads(http_request(f"{server.url}/items?page=2").body)["run"] == 4
        assert runs(redis_server) == 4
        no_tracebacks(server)


def test_concurrent_misses_on_two_servers_compute_once(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    env = {"VELOCIPY_TEST_STORE": redis_server.url}
    with serve("uvicorn", env) as asgi, serve("granian-rsgi", env) as rsgi:
        urls = [f"{(asgi, rsgi)[n % 2].url}/items" for n in range(16)]
        with ThreadPoolExecutor(16) as pool:
            bodies = [json.loads(r.body) for r in pool.map(http_request, urls)]
        assert {body["run"] for body in bodies} == {1}  # one computation for 16 misses
        assert runs(redis_server) == 1
        pids = {body["pid"] for body in bodies}
        assert len(pids) == 1  # every answer is the one the first server computed
        no_tracebacks(asgi, rsgi)


@pytest.mark.parametrize("kind", SERVERS)
def test_websocket_handshake_and_message_limits_on_real_servers(
    redis_server: RedisServer, kind: str
) -> None:
    import websockets.sync.client as ws_client
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    redis_server.command("FLUSHALL")
    away_from_a_minute_boundary()
    with serve(kind, {"VELOCIPY_TEST_STORE": redis_server.url}) as server:
        with ws_client.connect(f"{server.ws_url}/echo", open_timeout=10) as ws:
            for n in range(3):  # at the limit: every message echoed
                ws.send(str(n))
                assert ws.recv(timeout=10) == str(n)
            ws.send("over")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        received = closed.value.rcvd
        assert received is not None
        if kind == "granian-rsgi":  # RSGI cannot send a close code or reason
            assert (received.code, received.reason) == (1005, "")
        else:
            assert (received.code, received.reason) == (
                1008,
                "message rate limit exceeded: 3 per 60 s",
            )
        with ws_client.connect(f"{server.ws_url}/echo", open_timeout=10) as ws:
            ws.send("again")
            assert ws.recv(timeout=10) == "again"
        with pytest.raises(InvalidStatus) as refused:
            ws_client.connect(f"{server.ws_url}/echo", open_timeout=10)
        assert refused.value.response.status_code == 429
        if kind != "granian-rsgi":  # RSGI refusals carry the status only
            assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
        no_tracebacks(server)


def test_cache_with_redis_killed_answers_uncached_then_caches_again(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    with serve("granian-asgi", {"VELOCIPY_TEST_STORE": redis_server.url}) as server:
        assert http_request(f"{server.url}/items").status == 200
        assert http_request(f"{server.url}/items").status == 200
        assert runs(redis_server) == 1
        redis_server.kill()
        down = [http_request(f"{server.url}/items") for _ in range(3)]
        assert [r.status for r in down] == [200] * 3  # never a 500
        assert [json.loads(r.body)["run"] for r in down] == [0, 0, 0]  # the handler ran each time
        lines = [ln for ln in server.output().splitlines() if "store unavailable" in ln]
        assert len(lines) == 1, server.output()
        redis_server.start()
        first, second = (json.loads(http_request(f"{server.url}/items").body) for _ in range(2))
        assert first == second  # cached again
        assert first["run"] == 1  # the fresh Redis counts the handler's runs from zero
        no_tracebacks(server)


@pytest.mark.parametrize("kind", SERVERS)
def test_problem_documents_and_early_304_on_real_servers(
    redis_server: RedisServer, kind: str
) -> None:
    redis_server.command("FLUSHALL")
    away_from_a_minute_boundary()
    env = {
        "VELOCIPY_TEST_STORE": redis_server.url,
        "VELOCIPY_TEST_PROBLEMS": "1",
        "VELOCIPY_TEST_LIMIT": "1",
    }
    with serve(kind, env) as server:
        answers = {
            404: http_request(f"{server.url}/nowhere"),
            405: http_request(f"{server.url}/crash", method="DELETE"),
            422: http_request(f"{server.url}/items?page=abc"),
            500: http_request(f"{server.url}/crash"),
        }
        assert post(server, "/write") == 200
        answers[429] = http_request(f"{server.url}/write", method="POST", data=b"")
        for status, answer in answers.items():
            assert answer.status == status
            assert answer.headers["content-type"] == "application/problem+json"
            document = json.loads(answer.body)
            assert document["status"] == status
            assert document["type"] == "about:blank"
        assert json.loads(answers[422].body)["errors"][0]["loc"] == ["query", "page"]
        assert json.loads(answers[500].body) == {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
        }
        assert "retry-after" in answers[429].headers
        first = http_request(f"{server.url}/versions/doc?v=3")
        assert first.headers["etag"] == 'W/"3"'
        assert json.loads(first.body) == {"run": 1}
        for _ in range(3):  # answered before the handler: its counter does not move
            same = http_request(
                f"{server.url}/versions/doc?v=3", headers={"if-none-match": 'W/"3"'}
            )
            assert same.status == 304
            assert same.body == b""
        newer = http_request(f"{server.url}/versions/doc?v=4", headers={"if-none-match": 'W/"3"'})
        assert newer.status == 200
        assert json.loads(newer.body) == {"run": 2}
        output = server.output()
        assert output.count("RuntimeError: a bug, logged and never sent") == 1  # logged once
