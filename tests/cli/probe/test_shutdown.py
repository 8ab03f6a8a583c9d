"""ws-probe never aborts, whatever ends first: the server's close, a 1009, or the end of input.

The input thread used to block in ``sys.stdin.buffer.readline()``; when the server closed first
the interpreter's shutdown aborted on that reader's lock (exit 134, "Fatal Python error"). Each
case runs 20 times in a row against real servers, with stdin a pipe that is still open when the
session ends, and checks the exit code each time (the codes are documented in docs/cli.md).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.cli.probe.helpers import VELOCIPY
from tests.support import ServerProcess, free_port, running, server_argv

pytestmark = [pytest.mark.interop, pytest.mark.slow]

CLOSING_APP = "tests.cli.probe.closing_app:app"
RUNS = 20
# The two close behaviours: ASGI carries close codes, RSGI does not (granian ASGI is uvicorn's).
SERVERS = ("uvicorn", "granian-rsgi")
BIG_LINE = "x" * 70_000  # over the app's 64 KiB limit: the server closes with 1009
# What the probe sees when the server closes: RSGI cannot send a close code, so every close
# the app makes arrives as 1005 (no status received).
KICK_CLOSE = {"uvicorn": "4000", "granian-rsgi": "1005"}
TOO_BIG_CLOSE = {"uvicorn": "1009", "granian-rsgi": "1005"}
TOO_BIG_EXIT = {"uvicorn": 1, "granian-rsgi": 0}


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ServerProcess]]:
    port = free_port()
    argv = server_argv(request.param, CLOSING_APP, port)
    with running(argv, port=port, cwd=tmp_path_factory.mktemp(request.param)) as process:
        yield request.param, process


def probe_with_open_stdin(url: str, first_input: str, *extra: str) -> tuple[int, str, str]:
    """Run ws-probe with ``first_input`` written to a pipe that stays open until it exits."""
    process = subprocess.Popen(
        [VELOCIPY, "ws-probe", url, "--no-timestamps", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(first_input.encode())
    process.stdin.flush()
    try:
        stdout, stderr = process.communicate(timeout=30)  # closes stdin only after the exit
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stdout.decode(), stderr.decode()


def assert_clean(code: int, stderr: str) -> None:
    assert code != 134, stderr
    assert "Fatal Python error" not in stderr
    assert "Traceback" not in stderr


def test_the_server_closes_first_while_stdin_is_open(server: tuple[str, ServerProcess]) -> None:
    kind, process = server
    for _ in range(RUNS):
        code, stdout, stderr = probe_with_open_stdin(f"{process.ws_url}/kick", "kick\n")
        assert_clean(code, stderr)
        assert f"close {KICK_CLOSE[kind]}" in stdout
        assert "(closed by the server)" in stdout
        assert code == 0, stdout + stderr  # 4000 is the app's own code; 1005 is no code at all


def test_a_1009_close_while_stdin_is_open(server: tuple[str, ServerProcess]) -> None:
    kind, process = server
    for _ in range(RUNS):
        code, stdout, stderr = probe_with_open_stdin(f"{process.ws_url}/echo", BIG_LINE + "\n")
        assert_clean(code, stderr)
        assert f"close {TOO_BIG_CLOSE[kind]}" in stdout
        assert code == TOO_BIG_EXIT[kind], stdout + stderr


def test_input_ends_before_the_server_closes(server: tuple[str, ServerProcess]) -> None:
    _, process = server
    for _ in range(RUNS):
        done = subprocess.run(
            [VELOCIPY, "ws-probe", f"{process.ws_url}/soon", "--expect", "1"],
            input=b"", capture_output=True, timeout=30, check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        assert_clean(done.returncode, done.stderr.decode())
        assert "hello" in done.stdout.decode()
        assert done.returncode == 0


def test_input_ends_and_the_probe_closes_after_the_quiet_time(
    server: tuple[str, ServerProcess],
) -> None:
    _, process = server
    for _ in range(5):
        done = subprocess.run(
            [VELOCIPY, "ws-probe", f"{process.ws_url}/echo", "--idle-timeout", "0.1"],
            input=b"one\ntwo", capture_output=True, timeout=30, check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        stdout = done.stdout.decode()
        assert_clean(done.returncode, done.stderr.decode())
        assert stdout.count("one") == 2  # sent and echoed
        assert stdout.count("two") == 2  # the last line had no line ending
        assert "(closed by this client)" in stdout
        assert done.returncode == 0
