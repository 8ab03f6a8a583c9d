"""Drive the installed `velocipy run` in a temp project, the way a developer does."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.cli.run.projects import app_source
from tests.support import HTTPResult, ServerProcess, executable, free_port, http_request, wait_until


@dataclass
class DevProject:
    """A project folder, the state folder its app writes to, and a `velocipy run` on it."""

    root: Path
    state: Path
    interface: str  # "--asgi" | "--rsgi" | "--server granian --interface asgi"
    port: int
    server: ServerProcess | None = None

    @classmethod
    def create(cls, tmp_path: Path, interface: str, message: str = "version 1") -> DevProject:
        root, state = tmp_path / "project", tmp_path / "state"
        root.mkdir()
        state.mkdir()
        (root / "main.py").write_text(app_source(message))
        return cls(root, state, interface, free_port())

    @contextlib.contextmanager
    def running(self, *extra: str) -> Iterator[ServerProcess]:
        argv = [
            executable("velocipy"),
            "run",
            *self.interface.split(),
            "--port",
            str(self.port),
            *extra,
        ]
        self.server = ServerProcess(
            argv,
            self.port,
            self.root,
            env={"VELOCIPY_TEST_STATE": str(self.state), "COLUMNS": "200"},
            log_path=self.state / "velocipy-run.log",
        ).start()
        try:
            yield self.server
        finally:
            self.server.stop()

    def write_app(self, message: str, **options: str) -> None:
        (self.root / "main.py").write_text(app_source(message, **options))

    def get(self, path: str = "/", timeout: float = 3.0) -> HTTPResult | None:
        """One request; None while nothing answers (connection refused or reset)."""
        try:
            return http_request(f"http://127.0.0.1:{self.port}{path}", timeout=timeout)
        except OSError:
            return None

    def wait_for(self, status: int, text: str, timeout: float = 15.0) -> HTTPResult:
        """Poll ``/`` until it answers ``status`` with ``text`` in the body."""
        seen: list[HTTPResult | None] = []

        def answered() -> bool:
            result = self.get()
            seen.append(result)
            return result is not None and result.status == status and text in result.text

        if not wait_until(answered, timeout, interval=0.05):
            last = seen[-1] if seen else None
            summary = f"{last.status} {last.text[:300]!r}" if last else "no answer"
            raise AssertionError(f"no {status} with {text!r} (last: {summary})\n{self.output()}")
        result = seen[-1]
        assert result is not None
        return result

    def imports(self) -> int:
        marker = self.state / "imports.txt"
        return len(marker.read_text().splitlines()) if marker.exists() else 0

    def importer_pids(self) -> set[int]:
        marker = self.state / "imports.txt"
        return {int(line) for line in marker.read_text().split()} if marker.exists() else set()

    def output(self) -> str:
        return self.server.output() if self.server else ""

    def supervisor_pid(self) -> int:
        assert self.server is not None
        assert self.server.process is not None
        return self.server.process.pid


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def all_gone(pids: set[int], timeout: float) -> bool:
    return wait_until(lambda: not any(alive(pid) for pid in pids), timeout)


def quiet(seconds: float) -> None:
    """Let the watcher's debounce window pass (bounded, well under a second)."""
    time.sleep(seconds)


def environment_without_velocipy() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("VELOCIPY_")}
