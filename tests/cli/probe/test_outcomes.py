"""Connection errors explained, closes classified, history location (pure parts of the probe)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from velocipy_cli.probe.connection import explain_connect_error
from velocipy_cli.probe.outcomes import CloseInfo, ExitCode
from velocipy_cli.probe.terminal import complete_command, history_path

URL = "ws://127.0.0.1:8000/ws"


def test_close_info_from_each_kind_of_ending() -> None:
    server_first = ConnectionClosedOK(Close(4000, "bye"), Close(4000, "bye"), rcvd_then_sent=True)
    assert CloseInfo.from_exception(server_first) == CloseInfo(4000, "bye", "server")
    client_first = ConnectionClosedOK(Close(1000, ""), Close(1000, "done"), rcvd_then_sent=False)
    assert CloseInfo.from_exception(client_first) == CloseInfo(1000, "done", "client")
    unanswered = ConnectionClosedError(None, Close(1000, ""))
    assert CloseInfo.from_exception(unanswered) == CloseInfo(1000, "", "client", answered=False)
    dropped = ConnectionClosedError(None, None)
    assert CloseInfo.from_exception(dropped) == CloseInfo(1006, "", "nobody")


def test_refused_connection_suggests_velocipy_run() -> None:
    error = explain_connect_error(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), URL, 10)
    assert URL in error.message
    assert "velocipy run" in error.message
    assert error.exit_code is ExitCode.FAILURE
    assert error.retryable
    # Python 3.11 merges the errors for ::1 and 127.0.0.1 into one OSError without errno.
    merged = OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 8000, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 8000)"
    )
    assert "connection refused" in explain_connect_error(merged, URL, 10).message


def test_refused_handshake_has_status_hint_and_body() -> None:
    response = Response(404, "Not Found", Headers(), b'{"detail": "Not Found"}')
    error = explain_connect_error(InvalidStatus(response), URL, 10)
    assert "HTTP 404 Not Found" in error.message
    assert "WebSocket route at /ws" in error.message
    assert error.details == 'response body:\n{"detail": "Not Found"}'
    assert not error.retryable
    overloaded = Response(503, "Service Unavailable", Headers(), b"x" * 3000)
    error = explain_connect_error(InvalidStatus(overloaded), URL, 10)
    assert error.retryable
    assert error.details is not None
    assert error.details.endswith("… (1000 more characters)")


def test_timeouts_and_unknown_hosts() -> None:
    timeout = explain_connect_error(TimeoutError(), URL, 2.5)
    assert "timed out after 2.5 s" in timeout.message
    assert "--connect-timeout" in timeout.message
    unknown = explain_connect_error(
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "ws://nowhere.invalid/ws",
        10,
    )
    assert "cannot resolve host 'nowhere.invalid'" in unknown.message


def test_history_path_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert history_path({}, home) == home / ".local/state/velocipy/ws-probe-history"
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    assert history_path(state, home) == tmp_path / "state/velocipy/ws-probe-history"
    chosen = {**state, "VELOCIPY_PROBE_HISTORY": str(tmp_path / "mine")}
    assert history_path(chosen, home) == tmp_path / "mine"


def test_slash_commands_complete() -> None:
    assert [complete_command("/c", state) for state in range(2)] == ["/close", None]
    assert complete_command("/h", 0) == "/headers"
    assert complete_command("/h", 1) == "/help"
    assert complete_command("hello", 0) is None
