"""The test harness itself: a pytest killed outright does not leave its servers running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from tests.support import REPO_ROOT, wait_until

# Stands in for a pytest run: starts a "server" through tests.support, reports its pid, waits.
_HARNESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tests.support import ServerProcess, free_port

    server = ServerProcess(
        [sys.executable, "-c", "import time; time.sleep(120)"], free_port(), Path.cwd()
    ).start()
    print(server.process.pid, flush=True)
    time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has already exited
    except FileNotFoundError:
        return False


def test_servers_get_sigterm_when_the_test_process_is_killed() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _HARNESS], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    ) as harness:
        assert harness.stdout is not None
        server_pid = int(harness.stdout.readline())
        _kill_harness_then_check(harness, server_pid)


def _kill_harness_then_check(harness: subprocess.Popen[str], server_pid: int) -> None:
    try:
        assert _alive(server_pid)
        harness.send_signal(signal.SIGKILL)  # no cleanup code of ours runs
        harness.wait(10)
        assert wait_until(lambda: not _alive(server_pid), 10), "the server outlived its pytest"
    finally:
        if _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
