"""The TechEmpower test types written for each framework, the way its TechEmpower entry is.

What the Python entries share, and every app here does alike: one asyncpg pool per worker
(here the same size for every framework: ``BENCH_DB_POOL``, default 8), ``SELECT randomnumber
FROM world WHERE id = $1`` per row (a prepared statement reused for the rows of one request),
updates sent with one ``executemany``, the fortunes fetched, the added fortune appended, sorted
by message and rendered by a server-side template that escapes HTML. What differs is each
framework's own part: routing, the ``queries`` parameter, the response types and the template
engine (Jinja2 through each framework's own template support; Emmett's own engine for Emmett).

The database access is shared (``Database``) so the figures compare the frameworks, not
five spellings of the same asyncpg calls. The pool is made on first use in each worker, in
that worker's event loop (the readiness check and the verification warm it before timing).
Each factory returns an app for "asgi" or "rsgi", or None where the framework cannot serve
that interface or is not installed.

No ``from __future__ import annotations`` here: the handlers' annotations are objects when they
are defined, so frameworks that read them need not find names imported inside a factory.
"""

import asyncio
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates" / "techempower"
READ_ROW = 'SELECT "randomnumber" FROM "world" WHERE id = $1'
WRITE_ROW = 'UPDATE "world" SET "randomnumber" = $1 WHERE id = $2'
SELECT_FORTUNES = 'SELECT "id", "message" FROM "fortune"'
ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")
PLAIN = b"Hello, World!"
WORLD_ROWS = 10_000


def query_count(value: Any) -> int:
    """TechEmpower's rule: missing or not an integer is 1, then clamped to 1..500."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(count, 1), 500)


def message() -> dict[str, str]:
    return {"message": "Hello, World!"}  # a new object per request, as the rules ask


class Database:
    """One asyncpg pool per worker, made on first use in the worker's loop."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._lock: asyncio.Lock | None = None

    async def pool(self) -> Any:
        if self._pool is None:
            import asyncpg

            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    size = int(os.environ.get("BENCH_DB_POOL", "8"))
                    self._pool = await asyncpg.create_pool(
                        os.environ["BENCH_DATABASE_URL"], min_size=size, max_size=size
                    )
        return self._pool

    async def world(self) -> dict[str, int]:
        row_id = random.randint(1, WORLD_ROWS)
        async with (await self.pool()).acquire() as connection:
            number = await connection.fetchval(READ_ROW, row_id)
        return {"id": row_id, "randomNumber": number}

    async def worlds(self, count: int) -> list[dict[str, int]]:
        ids = random.sample(range(1, WORLD_ROWS + 1), count)
        async with (await self.pool()).acquire() as connection:
            statement = await connection.prepare(READ_ROW)
            return [{"id": i, "randomNumber": await statement.fetchval(i)} for i in ids]

    async def fortunes(self) -> list[Any]:
        async with (await self.pool()).acquire() as connection:
            rows: list[Any] = list(await connection.fetch(SELECT_FORTUNES))
        rows.append(ADDITIONAL_FORTUNE)
        rows.sort(key=lambda row: row[1])
        return rows

    async def update(self, count: int) -> list[dict[str, int]]:
        ids = sorted(random.sample(range(1, WORLD_ROWS + 1), count))  # sorted: no deadlocks
        updates = [(random.randint(1, WORLD_ROWS), i) for i in ids]
        async with (await self.pool()).acquire() as connection:
            statement = await connection.prepare(READ_ROW)
            for i in ids:
                await statement.fetchval(i)
            await connection.executemany(WRITE_ROW, updates)
        return [{"id": i, "randomNumber": number} for number, i in updates]


def velocipy_app(interface: str) -> Any:
    from velocipy import PlainTextResponse, Request, VelociPy
    from velocipy.responses import HTMLResponse
    from velocipy.templating import Jinja2Templates

    app = VelociPy()
    db = Database()
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @app.get("/json")
    async def json_route() -> dict[str, str]:
        return message()

    @app.get("/db")
    async def single_query() -> dict[str, int]:
        return await db.world()

    @app.get("/queries")
    async def queries(queries: str = "") -> list[dict[str, int]]:
        return await db.worlds(query_count(queries))

    @app.get("/fortunes")
    async def fortunes(request: Request) -> HTMLResponse:
        rows = await db.fortunes()
        return templates.TemplateResponse(request, "fortune.html", {"fortunes": rows})

    @app.get("/updates")
    async def updates(queries: str = "") -> list[dict[str, int]]:
        return await db.update(query_count(queries))

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAIN)

    return app


def starlette_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route
        from starlette.templating import Jinja2Templates
    except ImportError:
        return None
    db = Database()
    templates = Jinja2Templates(directory=str(TEMPLATES))

    async def json_route(request: Any) -> Any:
        return JSONResponse(message())

    async def single_query(request: Any) -> Any:
        return JSONResponse(await db.world())

    async def queries(request: Any) -> Any:
        return JSONResponse(await db.worlds(query_count(request.query_params.get("queries"))))

    async def fortunes(request: Any) -> Any:
        rows = await db.fortunes()
        return templates.TemplateResponse(request, "fortune.html", {"fortunes": rows})

    async def updates(request: Any) -> Any:
        return JSONResponse(await db.update(query_count(request.query_params.get("queries"))))

    async def plaintext(request: Any) -> Any:
        return PlainTextResponse(PLAIN)

    return Starlette(
        routes=[
            Route("/json", json_route),
            Route("/db", single_query),
            Route("/queries", queries),
            Route("/fortunes", fortunes),
            Route("/updates", updates),
            Route("/plaintext", plaintext),
        ]
    )


def fastapi_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import HTMLResponse, PlainTextResponse
        from fastapi.templating import Jinja2Templates
    except ImportError:
        return None
    app = FastAPI()
    db = Database()
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @app.get("/json")
    async def json_route() -> Any:
        return message()

    @app.get("/db")
    async def single_query() -> Any:
        return await db.world()

    @app.get("/queries")
    async def queries(queries: str | None = None) -> Any:
        return await db.worlds(query_count(queries))

    @app.get("/fortunes", response_class=HTMLResponse)
    async def fortunes(request: Request) -> Any:
        rows = await db.fortunes()
        return templates.TemplateResponse(request, "fortune.html", {"fortunes": rows})

    @app.get("/updates")
    async def updates(queries: str | None = None) -> Any:
        return await db.update(query_count(queries))

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext() -> Any:
        return PlainTextResponse(PLAIN)

    return app


def litestar_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from litestar import Litestar, MediaType, get
        from litestar.contrib.jinja import JinjaTemplateEngine
        from litestar.response import Template
        from litestar.template import TemplateConfig
    except ImportError:
        return None
    db = Database()

    @get("/json")
    async def json_route() -> dict[str, str]:
        return message()

    @get("/db")
    async def single_query() -> dict[str, int]:
        return await db.world()

    @get("/queries")
    async def queries(queries: str | None = None) -> list[dict[str, int]]:
        return await db.worlds(query_count(queries))

    @get("/fortunes")
    async def fortunes() -> Template:
        return Template("fortune.html", context={"fortunes": await db.fortunes()})

    @get("/updates")
    async def updates(queries: str | None = None) -> list[dict[str, int]]:
        return await db.update(query_count(queries))

    @get("/plaintext", media_type=MediaType.TEXT)
    async def plaintext() -> bytes:
        return PLAIN

    return Litestar(
        route_handlers=[json_route, single_query, queries, fortunes, updates, plaintext],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        logging_config=None,
    )


def blacksheep_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        import jinja2
        from blacksheep import Application, Content, Response
        from blacksheep.server.routing import Router
    except ImportError:
        return None
    import json

    app = Application(router=Router())
    db = Database()
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True
    )
    template = environment.get_template("fortune.html")
    get = app.router.get

    def as_json(value: Any) -> Any:
        body = json.dumps(value, separators=(",", ":")).encode()
        return Response(200, content=Content(b"application/json", body))

    @get("/json")
    async def json_route(request: Any) -> Any:
        return as_json(message())

    @get("/db")
    async def single_query(request: Any) -> Any:
        return as_json(await db.world())

    def count(request: Any) -> int:
        values = request.query.get("queries")
        return query_count(values[0] if values else None)

    @get("/queries")
    async def queries(request: Any) -> Any:
        return as_json(await db.worlds(count(request)))

    @get("/fortunes")
    async def fortunes(request: Any) -> Any:
        page = template.render(fortunes=await db.fortunes()).encode()
        return Response(200, content=Content(b"text/html; charset=utf-8", page))

    @get("/updates")
    async def updates(request: Any) -> Any:
        return as_json(await db.update(count(request)))

    @get("/plaintext")
    async def plaintext(request: Any) -> Any:
        return Response(200, content=Content(b"text/plain", PLAIN))

    return app


def emmett_app(interface: str) -> Any:
    try:
        from emmett import App, request
        from emmett.tools import service
    except ImportError:
        return None
    import tempfile

    # Emmett creates languages/, logs/ and static/ under its root: one fixed scratch folder.
    root = Path(tempfile.gettempdir()) / "velocipy-bench-emmett-techempower"
    app = App("bench_emmett_te", root_path=str(root), template_folder=str(TEMPLATES))
    app.config.handle_static = False
    db = Database()

    @app.route("/json", methods="get")
    @service.json
    async def json_route() -> dict[str, str]:
        return message()

    @app.route("/db", methods="get")
    @service.json
    async def single_query() -> dict[str, int]:
        return await db.world()

    @app.route("/queries", methods="get")
    @service.json
    async def queries() -> list[dict[str, int]]:
        return await db.worlds(query_count(request.query_params.queries))

    @app.route("/fortunes", methods="get", template="fortune-emmett.html")
    async def fortunes() -> dict[str, Any]:
        return {"fortunes": await db.fortunes()}

    @app.route("/updates", methods="get")
    @service.json
    async def updates() -> list[dict[str, int]]:
        return await db.update(query_count(request.query_params.queries))

    @app.route("/plaintext", methods="get", output="bytes")
    async def plaintext() -> bytes:
        return PLAIN

    return app


FACTORIES: dict[str, Callable[[str], Any]] = {
    "velocipy": velocipy_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
    "blacksheep": blacksheep_app,
    "emmett": emmett_app,
}
