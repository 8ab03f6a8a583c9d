"""A real PostgreSQL server in a temporary folder on a free loopback port (Debian's binaries).

One helper for the benchmark suite (``bench/techempower.py``) and the test suite
(``tests/database/postgres_server.py``). initdb makes the cluster, postgres serves it in the
foreground in its own process group. PostgreSQL refuses to run as root: as root, both run as
the unprivileged user ``nobody`` through ``runuser``, in a folder that user owns. Only the
standard library is imported: the bench loads this as a top-level module, the tests as
``bench.postgres``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path


def postgres_bin(name: str) -> str:
    """``initdb``/``postgres`` from PATH or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"{name} is missing: run .ci/provision (Debian package postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster, user ``postgres`` with trust auth on 127.0.0.1, database ``postgres``.

    ``settings`` are extra ``-c name=value`` server settings (the bench preloads
    ``pg_stat_statements`` to count the queries each endpoint makes); ``preexec_fn`` runs in
    the server's child process before it starts (the tests make it die with pytest).
    """

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.port = _free_port()
        self.settings = dict(settings or {})
        self.preexec_fn = preexec_fn
        self.folder = Path(tempfile.mkdtemp(prefix="velocipy-postgres-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.folder, nobody.pw_uid, nobody.pw_gid)
            self.as_user = [shutil.which("runuser") or "runuser", "-u", "nobody", "--"]

    def url(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        data = self.folder / "data"
        subprocess.run(
            [
                *self.as_user,
                postgres_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-instructions",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "full_page_writes": "off",
            **self.settings,
        }
        options = [part for name, value in settings.items() for part in ("-c", f"{name}={value}")]
        log = (self.folder / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self.as_user,
                postgres_bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                *options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=self.preexec_fn,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.accepts_connections():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()[-2000:]}")
            time.sleep(0.05)
        return self

    def accepts_connections(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        return "ready to accept connections" in self.log()

    def stop(self) -> None:
        """A fast shutdown (SIGINT), SIGKILL if it does not end; the folder is removed."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def postgres_server(
    settings: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[PostgresServer]:
    server = PostgresServer(settings, preexec_fn).start()
    try:
        yield server
    finally:
        server.stop()
