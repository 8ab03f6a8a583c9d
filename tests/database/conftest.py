from collections.abc import Iterator

import pytest

from tests.database.postgres_server import PostgresServer, postgres_server


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the tests of a module (each test uses its own table)."""
    with postgres_server() as server:
        yield server
