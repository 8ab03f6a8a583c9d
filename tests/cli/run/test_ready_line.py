"""`velocipy run` says "ready" (and "reloaded") before the server logs any request.

The supervisor listens before the child is ready, so a request sent as soon as the port
accepts waits in the backlog and is the first one the new server handles: its access-log line
must still come after the line that says the server is ready.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.cli.run.devserver import DevProject
from tests.support import HTTPResult, http_request, port_is_open, wait_until

INTERFACES = ["--asgi", "--rsgi", "--server granian --interface asgi"]

PROBE_APP = """\
from velocipy import VelociPy

app = VelociPy()


@app.get("/probe/{number:int}")
async def probe(number: int) -> str:
    return "__VERSION__"
"""


def probe_app(version: str) -> str:
    return PROBE_APP.replace("__VERSION__", version)


def probe(port: int, number: int) -> HTTPResult | None:
    """One request on a fresh connection; None while the port refuses it."""
    try:
        return http_request(f"http://127.0.0.1:{port}/probe/{number}", timeout=20.0)
    except OSError:
        return None


def line_of(output: str, pattern: str) -> int:
    """The index of the first output line matching ``pattern`` (fails when there is none)."""
    lines = output.splitlines()
    found = [index for index, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n{output}"
    return found[0]


def logged(project: DevProject, request_line: str) -> str:
    """The output once the server logged ``request_line`` (it may write it after answering)."""
    assert wait_until(lambda: request_line in project.output(), 10), project.output()
    return project.output()


@pytest.mark.parametrize("interface", INTERFACES)
def test_ready_and_reloaded_come_before_the_first_logged_request(
    tmp_path: Path, interface: str
) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(probe_app("version 1"))
    with project.running():
        # The port accepts as soon as the supervisor listens: this request queues in the
        # backlog until the child serves, and is the first request it handles.
        assert wait_until(lambda: port_is_open(project.port), 20, interval=0.01)
        first = probe(project.port, 0)
        assert first is not None
        assert first.text == "version 1"
        output = logged(project, "GET /probe/0 ")
        assert line_of(output, r"^ready in ") < line_of(output, r"GET /probe/0 "), output

        (project.root / "main.py").write_text(probe_app("version 2"))
        numbers = itertools.count(1)
        answered: list[int] = []  # probe numbers, the last one answered by the new version

        def new_version_answered() -> bool:
            number = next(numbers)
            result = probe(project.port, number)
            if result is not None:
                answered.append(number)
            return result is not None and result.text == "version 2"

        # Probes follow each other at once: the one the new server answers first waited in
        # the backlog while the old server stopped and the new one started.
        assert wait_until(new_version_answered, 20, interval=0.0), project.output()
        first_new = answered[-1]
        output = logged(project, f"GET /probe/{first_new} ")
        reloaded = line_of(output, r"^reloaded in ")
        assert reloaded < line_of(output, rf"GET /probe/{first_new} "), output


@pytest.mark.parametrize("interface", INTERFACES)
def test_with_two_workers_one_ready_line_comes_before_the_first_logged_request(
    tmp_path: Path, interface: str
) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(probe_app("version 1"))
    with project.running("--workers", "2", "--no-reload"):
        assert wait_until(lambda: port_is_open(project.port), 20, interval=0.01)
        for number in range(6):  # new connections: both workers take some
            result = probe(project.port, number)
            assert result is not None
            assert result.text == "version 1"
        output = logged(project, "GET /probe/5 ")
        assert line_of(output, r"^ready in ") < line_of(output, r"GET /probe/0 "), output
        assert len(re.findall(r"(?m)^ready in ", output)) == 1, output
