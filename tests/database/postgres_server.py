"""The tests' PostgreSQL: the bench's helper (``bench/postgres.py``), made to die with pytest.

One helper runs Debian's PostgreSQL binaries for both suites; here its server process gets
``die_with_pytest`` so a killed test run leaves no cluster behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bench.postgres import PostgresServer as _PostgresServer
from bench.postgres import postgres_bin
from tests.support import die_with_pytest

__all__ = ["PostgresServer", "postgres_bin", "postgres_server"]


class PostgresServer(_PostgresServer):
    """One cluster, user ``postgres`` with trust auth on 127.0.0.1, database ``postgres``."""

    def __init__(self) -> None:
        super().__init__(preexec_fn=die_with_pytest())


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
