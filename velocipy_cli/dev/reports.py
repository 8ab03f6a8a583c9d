"""What a dev child tells its supervisor: JSON lines (:class:`Report`) on an inherited pipe.

Two events: ``ready`` (the app started and the server accepts) and ``failed`` (the app could not
be imported or its startup raised), the latter carrying an :class:`AppFailure`.

A child that reported ``ready`` handles no request before the supervisor printed it: it waits
(:func:`wait_for_acknowledgement`) until the supervisor closes the child's stdin, so the
"ready" line always comes before the server's first access-log line.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class AppFailure:
    """Why the app failed to load, small enough for one terminal line and one 503 body."""

    stage: str  # "import" | "startup" | "exit"
    summary: str  # "main.py, line 3: SyntaxError: invalid syntax"
    detail: str = ""  # the traceback, trimmed to the user's frames where possible

    @classmethod
    def from_exception(cls, exc: BaseException, stage: str, project_root: Path) -> AppFailure:
        """Point at the most useful place: the SyntaxError's line, or the deepest project frame."""
        if _names_its_place(str(exc)):  # "main.py:7: create: ... fix": already one line
            return cls(stage, str(exc))
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        where = _location(exc, project_root)
        summary = f"{where}: {message}" if where else message
        if isinstance(exc, SyntaxError):
            message = f"{type(exc).__name__}: {exc.msg}"
            summary = f"{where}: {message}" if where else message
        return cls(stage, summary, _trim_detail(_user_traceback(exc, project_root)))

    @property
    def title(self) -> str:
        return {
            "import": "the app failed to import",
            "startup": "the app failed to start",
        }.get(self.stage, "the app server stopped")


_PLACE = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):\d+: ")


def _names_its_place(message: str) -> bool:
    """A message that starts with ``file.py:LINE:`` (the framework's registration refusals)
    says where and what in one line; a location or traceback in front would only repeat it."""
    match = _PLACE.match(message)
    return match is not None and "\n" not in message and Path(match["file"]).is_file()


def _location(exc: BaseException, project_root: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{_shown(Path(exc.filename), project_root)}, line {exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if _inside(Path(frame.filename), project_root)]
    chosen = (ours or frames)[-1:] if frames else []
    if not chosen:
        return ""
    frame = chosen[0]
    return f"{_shown(Path(frame.filename), project_root)}, line {frame.lineno}"


def _inside(path: Path, root: Path) -> bool:
    if not path.is_absolute():  # "<frozen importlib._bootstrap>", "uvloop/loop.pyx"
        return False
    try:
        resolved = path.resolve()
    except OSError:
        return False
    return resolved.is_relative_to(root) and "site-packages" not in resolved.parts


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except (OSError, ValueError):
        return str(path)


def _user_traceback(exc: BaseException, project_root: Path) -> str:
    """The traceback cut down to the project's own frames.

    When none are the project's (a syntax error, a missing module), only the error itself is
    shown: a SyntaxError still names its file and line, and our own or importlib's frames tell
    the user nothing they can act on.
    """
    report = traceback.TracebackException.from_exception(exc)
    ours = [frame for frame in report.stack if _inside(Path(frame.filename), project_root)]
    report.stack = traceback.StackSummary.from_list(ours)
    return "".join(report.format()).rstrip()


def _trim_detail(detail: str, limit: int = 4000) -> str:
    return detail if len(detail) <= limit else "...\n" + detail[-limit:]


@dataclass(frozen=True)
class Report:
    """One event from a child: ``ready`` (with a note saying which app) or ``failed``."""

    event: str
    failure: AppFailure | None = None
    note: str = ""


def send_report(fd: int, report: Report) -> None:
    """Write one event line; a supervisor that went away is not an error here."""
    payload = asdict(report)
    try:
        os.write(fd, (json.dumps(payload) + "\n").encode())
    except OSError:
        pass


def wait_for_acknowledgement(fd: int) -> None:
    """Block until the supervisor closed its end of ``fd`` (it has shown the ``ready`` report).

    End of file is the signal, so every process sharing ``fd`` (server workers) goes on at once,
    and a supervisor that died releases them too.
    """
    while True:
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


def parse_reports(buffer: bytearray) -> list[Report]:
    """Pop every complete line from ``buffer`` and decode it; garbage lines are skipped."""
    reports: list[Report] = []
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        try:
            payload = json.loads(line)
            failure = payload.get("failure")
            decoded = AppFailure(**failure) if isinstance(failure, dict) else None
            reports.append(Report(str(payload["event"]), decoded, str(payload.get("note", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return reports
