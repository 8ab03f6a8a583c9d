"""SQLAlchemy sessions on real servers: a successful handler commits, a failing one rolls back.

The app (tests/database/served_notes.py) runs under uvicorn, granian RSGI and granian ASGI, on
SQLite (aiosqlite) and on a real PostgreSQL server (asyncpg) the tests start; the rows are read
back with the database's own client, not through the app.
"""

import asyncio
import sqlite3
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.database.postgres_server import PostgresServer
from tests.support import SERVERS, free_port, running, server_argv, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _postgres_database(postgres: PostgresServer) -> str:
    """A fresh database on the shared server; its asyncpg-free URL (the app picks asyncpg)."""
    name = f"notes_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(postgres.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return f"postgresql://postgres@127.0.0.1:{postgres.port}/{name}"


def _texts(url: str) -> list[str]:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        with sqlite3.connect(path) as connection:
            try:
                return [row[0] for row in connection.execute("SELECT text FROM notes ORDER BY id")]
            except sqlite3.OperationalError:  # the table is made at the app's start-up
                return []

    async def fetch() -> list[str]:
        connection = await asyncpg.connect(url)
        try:
            return [r["text"] for r in await connection.fetch("SELECT text FROM notes ORDER BY id")]
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await connection.close()

    return asyncio.run(fetch())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'notes.db'}"
    return _postgres_database(request.getfixturevalue("postgres"))


@pytest.mark.parametrize("server", SERVERS)
def test_success_commits_and_failure_rolls_back(server: str, database_url: str) -> None:
    port = free_port()
    argv = server_argv(server, "tests.database.served_notes:app", port)
    env = {"NOTES_DATABASE_URL": database_url}
    with running(argv, port=port, cwd=ROOT, env=env) as process:
        with httpx.Client(base_url=process.url, timeout=10) as client:
            first = client.post("/notes", json={"text": "kept"})
            assert first.status_code == 201, process.output()
            failed = client.post("/notes/failing", json={"text": "lost"})
            assert failed.status_code == 500
            assert failed.json() == {"detail": "Internal Server Error"}
            # the rollback ran before the 500 was sent: the row is not there
            assert "lost" not in _texts(database_url)
            assert client.post("/notes", json={"text": "after"}).status_code == 201
            # the commit runs once the response was sent: wait for it, then look at every row
            assert wait_until(lambda: _texts(database_url) == ["kept", "after"], 10), _texts(
                database_url
            )
            page = client.get("/notes", params={"limit": 1, "offset": 1}).json()
            assert page == {
                "items": [{"id": page["items"][0]["id"], "text": "after"}],
                "total": 2,
                "limit": 1,
                "offset": 1,
            }
        assert process.alive()
    assert _texts(database_url) == ["kept", "after"]
