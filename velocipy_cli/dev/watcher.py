"""Which file changes restart the dev server, and the watchfiles thread that reports them.

Watched: ``.py`` files, the files under ``templates/`` and ``static/`` folders, ``.env`` files,
and ``--reload-include`` globs. Never: virtualenvs (any folder holding ``pyvenv.cfg``, ``.venv``,
``venv``), ``site-packages``, ``__pycache__``, VCS folders, ``node_modules``, tool caches, logs,
SQLite files, editor droppings, and ``--reload-exclude`` globs. The CLI itself writes no files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path, PurePath

import watchfiles

IGNORED_DIRS = frozenset(
    {
        ".venv", "venv", "site-packages", "dist-packages", "__pycache__", ".git", ".hg", ".svn",
        "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".cache",
        ".hypothesis", ".idea", ".vscode", "__pypackages__", ".eggs",
    }
)  # fmt: skip
IGNORED_FILES = (
    "*.log", "*.log.*", "*.sqlite", "*.sqlite*", "*.db-journal", "*.pyc", "*.pyo", "*.swp",
    "*.swx", "*~", ".#*", "#*#", "4913", ".DS_Store",
)  # fmt: skip
WATCHED_FILES = ("*.py", ".env", ".env.*", "*.env")
WATCHED_DIRS = frozenset({"templates", "static"})

#: watchfiles groups changes until none arrived for STEP_MS (or DEBOUNCE_MS passed).
STEP_MS = 50
DEBOUNCE_MS = 1200


class ReloadFilter:
    """Decides whether a changed path should restart the server (callable for watchfiles)."""

    def __init__(
        self,
        roots: Sequence[Path],
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
    ) -> None:
        self.roots = tuple(root.resolve() for root in roots)
        self.includes = tuple(includes)
        self.excludes = tuple(excludes)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        return self.should_reload(Path(path))

    def should_reload(self, path: Path) -> bool:
        relative = self._relative(path)
        if relative is None:
            return False
        folders = relative.parts[:-1]
        name = relative.name
        rel_text = relative.as_posix()
        if any(_matches(name, rel_text, pattern) for pattern in self.excludes):
            return False
        if any(folder in IGNORED_DIRS for folder in folders):
            return False
        if any(fnmatch(name, pattern) for pattern in IGNORED_FILES):
            return False
        if self._inside_virtualenv(path, len(folders)):
            return False
        if any(_matches(name, rel_text, pattern) for pattern in self.includes):
            return True
        if any(fnmatch(name, pattern) for pattern in WATCHED_FILES):
            return True
        return any(folder in WATCHED_DIRS for folder in folders)

    def _relative(self, path: Path) -> PurePath | None:
        absolute = path if path.is_absolute() else path.resolve()
        for root in self.roots:
            if absolute.is_relative_to(root):
                return absolute.relative_to(root)
        return None

    def _inside_virtualenv(self, path: Path, depth: int) -> bool:
        folder = path.parent
        for _ in range(depth):
            if _holds_pyvenv_cfg(folder):
                return True
            folder = folder.parent
        return False


@lru_cache(maxsize=4096)
def _holds_pyvenv_cfg(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def _matches(name: str, relative: str, pattern: str) -> bool:
    pattern = pattern.removeprefix("./")
    if pattern.endswith("/"):  # "data/" means the folder and everything below it
        return relative.startswith(pattern) or f"/{pattern}" in f"/{relative}"
    return fnmatch(name, pattern) or fnmatch(relative, pattern)


class ChangeWatcher:
    """Runs watchfiles in a thread; ``on_changes`` gets each debounced batch of relevant paths."""

    def __init__(
        self,
        roots: Sequence[Path],
        reload_filter: ReloadFilter,
        on_changes: Callable[[list[Path]], None],
    ) -> None:
        self.roots = [root.resolve() for root in roots]
        self.reload_filter = reload_filter
        self.on_changes = on_changes
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="velocipy-watcher", daemon=True)

    def start(self, timeout: float = 5.0) -> None:
        self._thread.start()
        self._ready.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        self._ready.set()  # watchfiles sets up its inotify watches synchronously below
        changes_seen: Iterable[set[tuple[watchfiles.Change, str]]] = watchfiles.watch(
            *self.roots,
            watch_filter=self.reload_filter,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            raise_interrupt=False,
            yield_on_timeout=False,
        )
        for batch in changes_seen:
            if self._stop.is_set():
                return
            paths = sorted({Path(path) for _, path in batch})
            if paths:
                self.on_changes(paths)
