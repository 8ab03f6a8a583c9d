"""`velocipy run --workers N --no-reload` on every server: N processes answer, none outlive it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli.run.devserver import DevProject, all_gone, descendants
from tests.support import http_request, port_is_open, wait_until

pytestmark = pytest.mark.interop

GRANIAN_ASGI = "--server granian --interface asgi"
PID_APP = """\
import os

from velocipy import VelociPy

app = VelociPy()


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}
"""


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi", GRANIAN_ASGI])
def test_two_workers_answer_from_two_pids_and_exit_with_no_orphans(
    tmp_path: Path, interface: str
) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(PID_APP)
    with project.running("--workers", "2", "--no-reload") as server:
        pids: set[int] = set()

        def two_pids_answered() -> bool:
            try:  # a new connection each time, so the kernel spreads them over the workers
                result = http_request(f"{server.url}/pid", timeout=3)
            except OSError:
                return False
            if result.status == 200:
                pids.add(int(result.text.split(":")[1].strip(" }")))
            return len(pids) >= 2

        assert wait_until(two_pids_answered, 60, interval=0.01), (pids, project.output())
        assert "off (2 workers)" in project.output()
        supervisor = project.supervisor_pid()
        family = descendants(supervisor)
        assert pids <= family, (pids, family)

        server.signal(signal.SIGTERM)  # only the supervisor is signalled; the workers must follow
        assert server.process is not None
        assert server.process.wait(timeout=20) == 0, project.output()
        assert all_gone(family, timeout=10), family
        assert not port_is_open(project.port)
