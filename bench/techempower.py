"""The TechEmpower test types on a real PostgreSQL the bench starts on a loopback port.

The World (10,000 rows) and Fortune (12 rows) tables are made and filled as TechEmpower
specifies; each app (``techempower_apps.py``) runs on each server it can serve; every
endpoint is checked by TechEmpower's verification rules (the checks below) before it is
timed, and an app that fails a check is reported, not timed. The timing is wrk against the
app as in the HTTP tier (server pinned apart from wrk, server CPU per request from ``/proc``),
plus the database's CPU per request. Query counts are read from ``pg_stat_statements``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from http_e2e import measure_endpoint
from machine import cpu_seconds, process_tree
from postgres import PostgresServer
from servers import ServerFailed, serves, serving
from techempower_apps import ADDITIONAL_FORTUNE, FACTORIES, WORLD_ROWS

SUITE = "techempower_apps"
TESTS = {
    "json": "/json",
    "db": "/db",
    "queries-1": "/queries?queries=1",
    "queries-20": "/queries?queries=20",
    "queries-500": "/queries?queries=500",
    "fortunes": "/fortunes",
    "updates-20": "/updates?queries=20",
    "plaintext": "/plaintext",
}
FORTUNES = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]
PIPELINED = {"plaintext": 16}  # TechEmpower sends plaintext requests 16 at a time per connection
POSTGRES_SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "max_connections": "300"}
Response = tuple[int, dict[str, str], bytes]


# --- the database ---------------------------------------------------------------------------
async def _fill(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
            'CREATE TABLE "world" (id integer NOT NULL PRIMARY KEY,'
            " randomnumber integer NOT NULL DEFAULT 0);"
            'CREATE TABLE "fortune" (id integer NOT NULL PRIMARY KEY,'
            " message varchar(2048) NOT NULL);"
            'INSERT INTO "world" (id, randomnumber) SELECT n, floor(random() * 10000 + 1)'
            f" FROM generate_series(1, {WORLD_ROWS}) AS n;"
        )
        await connection.executemany('INSERT INTO "fortune" VALUES ($1, $2)', FORTUNES)
    finally:
        await connection.close()


@contextlib.contextmanager
def database() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL with the World and Fortune tables, stopped when the block ends."""
    server = PostgresServer(POSTGRES_SETTINGS).start()
    try:
        asyncio.run(_fill(server.url()))
        yield server
    finally:
        server.stop()


def statement_counts(url: str) -> dict[str, int]:
    """World reads (calls) and rows updated so far, from pg_stat_statements."""

    async def read() -> dict[str, int]:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            row = await connection.fetchrow(
                "SELECT coalesce(sum(calls) FILTER (WHERE query ILIKE 'select%world%'), 0),"
                " coalesce(sum(rows) FILTER (WHERE query ILIKE 'update%world%'), 0)"
                " FROM pg_stat_statements"
            )
            return {"world_reads": int(row[0]), "world_rows_updated": int(row[1])}
        finally:
            await connection.close()

    return asyncio.run(read())


def world_numbers(url: str, ids: list[int]) -> dict[int, int]:
    async def read() -> dict[int, int]:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            rows = await connection.fetch(
                'SELECT id, randomnumber FROM "world" WHERE id = any($1::int[])', ids
            )
            return {row[0]: row[1] for row in rows}
        finally:
            await connection.close()

    return asyncio.run(read())


# --- TechEmpower's verification rules ---------------------------------------------------------
def fetch(port: int, path: str) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def check_headers(response: Response, content_type: str) -> list[str]:
    """Status 200, the headers every test type needs, and the expected content type."""
    status, headers, _ = response
    problems = [] if status == 200 else [f"status {status}, not 200"]
    for name in ("server", "date", "content-type"):
        if name not in headers:
            problems.append(f"required header missing: {name}")
    if "content-length" not in headers and "transfer-encoding" not in headers:
        problems.append("neither Content-Length nor Transfer-Encoding")
    given = headers.get("content-type", "").replace(" ", "").lower()
    wanted = content_type.replace(" ", "").lower()
    if not (given == wanted or (";" not in wanted and given.startswith(wanted + ";"))):
        problems.append(f"content-type {headers.get('content-type')!r}, not {content_type!r}")
    return problems


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def check_world(item: Any) -> list[str]:
    """One World object: ``id`` and ``randomNumber``, integers from 1 to 10,000."""
    if not isinstance(item, dict):
        return [f"not a JSON object: {item!r:.80}"]
    keys = {k.lower(): v for k, v in item.items()}
    problems = []
    for key in ("id", "randomnumber"):
        value = keys.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= WORLD_ROWS:
            problems.append(f"{key} is {value!r}, not an integer from 1 to {WORLD_ROWS}")
    return problems


def check_json(response: Response) -> list[str]:
    problems = check_headers(response, "application/json")
    body = _json(response[2])
    if not isinstance(body, dict) or {k.lower(): v for k, v in body.items()} != {
        "message": "Hello, World!"
    }:
        problems.append(f'body {response[2][:80]!r}, not {{"message": "Hello, World!"}}')
    return problems


def check_db(response: Response) -> list[str]:
    return check_headers(response, "application/json") + check_world(_json(response[2]))


def check_queries(response: Response, expected: int) -> list[str]:
    problems = check_headers(response, "application/json")
    body = _json(response[2])
    if not isinstance(body, list):
        return [*problems, f"not a JSON array: {response[2][:80]!r}"]
    if len(body) != expected:
        problems.append(f"{len(body)} objects, not {expected}")
    for item in body[:3]:
        problems += check_world(item)
    return problems


def check_plaintext(response: Response) -> list[str]:
    problems = check_headers(response, "text/plain")
    if response[2] != b"Hello, World!":
        problems.append(f"body {response[2][:80]!r}, not b'Hello, World!'")
    return problems


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def expected_fortunes() -> list[list[str]]:
    rows = sorted([*FORTUNES, ADDITIONAL_FORTUNE], key=lambda row: row[1])
    return [["id", "message"], *([str(i), m] for i, m in rows)]


def check_fortunes(response: Response) -> list[str]:
    """The page's table is the 12 fortunes and the added one, sorted by message, escaped."""
    problems = check_headers(response, "text/html; charset=utf-8")
    try:
        page = response[2].decode("utf-8")
    except UnicodeDecodeError:
        return [*problems, "the page is not UTF-8"]
    if "<script>" in page:
        problems.append("a fortune's <script> was not escaped")
    if not re.match(r"\s*<!doctype html>", page, re.IGNORECASE):
        problems.append("the page does not start with <!DOCTYPE html>")
    parser = _Rows()
    parser.feed(page)
    if parser.rows != expected_fortunes():
        problems.append(f"the table is not the sorted fortunes: {parser.rows[:3]!r:.120}...")
    return problems


def verify(port: int, url: str) -> list[str]:
    """Every test type's checks, the ``queries`` bounds, and the queries the database saw."""
    problems = []
    problems += [f"json: {p}" for p in check_json(fetch(port, "/json"))]
    problems += [f"db: {p}" for p in check_db(fetch(port, "/db"))]
    problems += [f"plaintext: {p}" for p in check_plaintext(fetch(port, "/plaintext"))]
    problems += [f"fortunes: {p}" for p in check_fortunes(fetch(port, "/fortunes"))]
    for path in ("/queries", "/updates"):
        for query, expected in (
            ("", 1), ("?queries=", 1), ("?queries=foo", 1), ("?queries=0", 1),
            ("?queries=1", 1), ("?queries=20", 20), ("?queries=501", 500),
        ):  # fmt: skip
            found = check_queries(fetch(port, path + query), expected)
            problems += [f"{path}{query}: {p}" for p in found]
    repeats, count = 4, 20
    before = statement_counts(url)
    for _ in range(repeats):
        fetch(port, f"/queries?queries={count}")
    for _ in range(repeats - 1):
        fetch(port, f"/updates?queries={count}")
    last = _json(fetch(port, f"/updates?queries={count}")[2])  # the last write to its rows
    after = statement_counts(url)
    reads = after["world_reads"] - before["world_reads"]
    if reads < 2 * repeats * count:
        problems.append(f"{reads} World reads for {2 * repeats} requests of {count}")
    updated = after["world_rows_updated"] - before["world_rows_updated"]
    if updated < repeats * count:
        problems.append(f"{updated} World rows updated by {repeats} requests of {count}")
    if isinstance(last, list) and all(isinstance(w, dict) for w in last):
        sent = {w.get("id"): w.get("randomNumber") for w in last}
        stored = world_numbers(url, [i for i in sent if isinstance(i, int)])
        wrong = sorted(i for i in sent if stored.get(i) != sent[i])  # type: ignore[call-overload]
        if wrong:
            problems.append(f"updates: rows {wrong[:5]} not stored as answered")
    return problems


# --- the tier -------------------------------------------------------------------------------
def pipeline_script(path: str, depth: int, folder: Path) -> str:
    """A wrk Lua script sending ``depth`` pipelined requests for ``path`` at a time."""
    script = folder / f"pipeline-{depth}.lua"
    script.write_text(
        "init = function(args)\n"
        "  local requests = {}\n"
        f"  for i = 1, {depth} do requests[i] = wrk.format(nil, {json.dumps(path)}) end\n"
        "  pipelined = table.concat(requests)\n"
        "end\n"
        "request = function() return pipelined end\n"
    )
    return str(script)


def database_pids(postgres: PostgresServer) -> list[int]:
    assert postgres.process is not None
    return process_tree(postgres.process.pid)


def settle(pids: list[int], timeout: float = 60.0) -> None:
    """Wait until the server is idle: wrk stops at its deadline, but the requests it left in
    flight (500 queries each) still run, and would be counted against the next test."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(pids)
        if now - last < 0.02:
            return
        last = now


def run(
    frameworks: list[str],
    servers: list[str],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    cpus: tuple[str | None, str | None],
    tests: list[str] | None = None,
    pool: int = 8,
    log: Any = print,
) -> list[dict[str, Any]]:
    """One row per (server, round, framework, test) that passed verification; one row with
    ``problems`` or ``error`` for an app that failed it or did not start."""
    chosen = [t for t in TESTS if tests is None or t in tests]
    rows: list[dict[str, Any]] = []
    with database() as postgres, tempfile.TemporaryDirectory() as scratch:
        url = postgres.url()
        scripts = {
            test: pipeline_script(TESTS[test], depth, Path(scratch))
            for test, depth in PIPELINED.items()
        }
        env = {"BENCH_DATABASE_URL": url, "BENCH_DB_POOL": str(pool)}  # one size for all
        for server in servers:
            runnable = [f for f in frameworks if f in FACTORIES and serves(f, server)]
            for round_index in range(rounds):
                shift = round_index % max(len(runnable), 1)
                for framework in runnable[shift:] + runnable[:shift]:
                    where = {"server": server, "round": round_index, "framework": framework}
                    try:
                        with serving(framework, server, cpus[0], suite=SUITE, env=env) as running:
                            problems = verify(running.port, url)
                            if problems:
                                log(f"  techempower {server} {framework}: FAILED verification")
                                for problem in problems[:10]:
                                    log(f"    {problem}")
                                rows.append({**where, "problems": problems})
                                continue
                            for test in chosen:
                                settle(running.pids() + database_pids(postgres))
                                db_before = cpu_seconds(database_pids(postgres))
                                result = measure_endpoint(
                                    running,
                                    TESTS[test],
                                    seconds,
                                    connections,
                                    cpus[1],
                                    script=scripts.get(test),
                                )
                                db_cpu = cpu_seconds(database_pids(postgres)) - db_before
                                result["db_cpu_us_per_request"] = (
                                    db_cpu / max(result["requests"], 1) * 1e6
                                )
                                rows.append({**where, "test": test, **result})
                                log(
                                    f"  techempower {server:<13} r{round_index} {framework:<11}"
                                    f" {test:<12} {result['rps']:>8.0f} req/s"
                                    f" cpu {result['server_cpu_us_per_request']:.1f} us/req"
                                    + (f" non-2xx {result['non_2xx']}" if result["non_2xx"] else "")
                                )
                    except (
                        ServerFailed,
                        subprocess.CalledProcessError,
                        OSError,
                        ValueError,
                    ) as exc:
                        log(
                            f"  techempower {server} {framework}: FAILED {str(exc).splitlines()[0]}"
                        )
                        rows.append({**where, "error": str(exc)[:500]})
    return rows
