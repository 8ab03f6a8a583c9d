"""A real PostgreSQL server in a temporary folder on a free loopback port (Debian's binaries).

initdb makes the cluster, postgres serves it in the foreground (so the test owns its process
group and it dies with pytest). PostgreSQL refuses to run as root: as root, both run as the
unprivileged user ``nobody`` through ``runuser``, in a folder that user owns.
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
from collections.abc import Iterator
from pathlib import Path

from tests.support import die_with_pytest, free_port, wait_until


def postgres_bin(name: str) -> str:
    """``initdb``/``postgres`` from PATH or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    assert found, f"{name} is missing: run .ci/provision (Debian package postgresql)"
    return found


class PostgresServer:
    """One cluster, user ``postgres`` with trust auth on 127.0.0.1, database ``postgres``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="velocipy-postgres-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.folder, nobody.pw_uid, nobody.pw_gid)
            self.as_user = [shutil.which("runuser") or "runuser", "-u", "nobody", "--"]

    def url(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
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
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_pytest(),
        )
        log.close()
        assert wait_until(self.accepts_connections, 30), self.log()
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
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
