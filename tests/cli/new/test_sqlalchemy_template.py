"""The sqlalchemy template, generated and installed in a fresh virtualenv: its own tests pass on
SQLite and on a real PostgreSQL server, and `alembic upgrade head` then the app served by uvicorn
and granian RSGI work on PostgreSQL as its README says, without showing the URL's password."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from tests.cli.new.venvs import GeneratedProject, Virtualenv, venv_server_argv
from tests.database.postgres_server import PostgresServer, postgres_server
from tests.support import free_port, http_request, running

pytestmark = [pytest.mark.slow, pytest.mark.interop]

PASSWORD = "pw-5d2c7e-never-shown"  # the cluster trusts loopback: sent only if asked, shown never


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def fresh_database(postgres: PostgresServer) -> str:
    name = f"items_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(postgres.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{postgres.port}/{name}"


def test_the_project_passes_its_own_tests_on_sqlite_and_postgresql(
    generated_project: Callable[[str], GeneratedProject],
    wheel_venv: Virtualenv,
    postgres: PostgresServer,
) -> None:
    project = generated_project("sqlalchemy")
    pytest_argv = [wheel_venv.script("pytest"), "-v", "-p", "no:cacheprovider"]
    on_sqlite = wheel_venv.run(pytest_argv, cwd=project.path)
    on_postgres = wheel_venv.run(
        pytest_argv, cwd=project.path, env={"TEST_DATABASE_URL": fresh_database(postgres)}
    )
    for done in (on_sqlite, on_postgres):
        assert "11 passed" in done.stdout, done.stdout
        assert "test_a_failing_handler_rolls_back PASSED" in done.stdout
        assert "failed" not in done.stdout
        assert "skipped" not in done.stdout
    assert "test_health_asks_the_database[rsgi] PASSED" in on_postgres.stdout


@pytest.mark.parametrize("server", ["uvicorn", "granian-rsgi"])
def test_migrated_and_served_on_postgresql_as_the_readme_says(
    server: str,
    generated_project: Callable[[str], GeneratedProject],
    wheel_venv: Virtualenv,
    postgres: PostgresServer,
) -> None:
    project = generated_project("sqlalchemy")
    readme = (project.path / "README.md").read_text()
    assert "\nalembic upgrade head\n" in readme
    assert "export APP_DATABASE_URL=postgresql://" in readme
    url = fresh_database(postgres)
    env = {"APP_DATABASE_URL": url}
    migrated = wheel_venv.run(
        [wheel_venv.script("alembic"), "upgrade", "head"], cwd=project.path, env=env
    )
    assert "Running upgrade  -> 0001, create the items table" in migrated.stderr
    assert PASSWORD not in migrated.stdout + migrated.stderr

    port = free_port()
    argv = venv_server_argv(wheel_venv, server, project.app_target, port)
    with running(argv, port=port, cwd=project.path, env={**wheel_venv.env(), **env}) as served:
        created = urllib.request.urlopen(
            urllib.request.Request(
                f"{served.url}/items",
                data=json.dumps({"name": "lamp", "price_cents": 1999}).encode(),
                headers={"content-type": "application/json"},
                method="POST",
            ),
            timeout=10,
        )
        assert created.status == 201
        item = json.loads(created.read())
        listing = http_request(f"{served.url}/items?limit=5")
        assert json.loads(listing.body) == {"items": [item], "total": 1, "limit": 5, "offset": 0}
        health = http_request(f"{served.url}/health")
        assert json.loads(health.body) == {"status": "ok", "database": "postgresql"}
        assert http_request(f"{served.url}/items?limit=0").status == 422
    assert PASSWORD not in served.output()
    assert "Traceback" not in served.output()
