"""Scripted mode of the installed `velocipy ws-probe` against the `websockets` library's server."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.cli.probe.helpers import probe
from tests.support import ServerProcess, free_port

TIMESTAMP = re.compile(r"\d\d:\d\d:\d\d\.\d{3}")


def lines_with(output: str, marker: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(marker)]


def test_text_lines_from_stdin_round_trip_in_order(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/echo", "--expect", "2", stdin="hello\nworld\n")
    assert result.returncode == 0, result.stderr
    sent = lines_with(result.stdout, "→")
    received = lines_with(result.stdout, "←")
    assert [line.split("  ", 1)[1] for line in sent] == ["hello", "world"]
    assert [line.split("  ", 1)[1] for line in received] == ["hello", "world"]
    assert all("text 5 B" in line for line in sent + received)
    assert f"connected to {echo_server.ws_url}/echo" in result.stderr


def test_json_is_validated_and_pretty_printed(echo_server: ServerProcess) -> None:
    result = probe(
        f"{echo_server.ws_url}/echo", "--json", "--send", '{"n": [1, 2]}', "--expect", "1"
    )
    assert result.returncode == 0, result.stderr
    received = result.stdout[result.stdout.index("←") :]
    assert "json 13 B" in received
    assert '  {\n    "n": [\n      1,\n      2\n    ]\n  }' in received


def test_invalid_json_line_is_a_usage_error_and_is_not_sent(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/echo", "--json", stdin='{"ok": true}\nnot json\n')
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    assert "not json" not in result.stdout
    assert lines_with(result.stdout, "→")  # the valid line before it was sent


def test_binary_frames_from_hex_and_from_a_file(echo_server: ServerProcess, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(40)))
    result = probe(
        f"{echo_server.ws_url}/echo",
        "--expect",
        "2",
        stdin=f"/bin de ad be ef\n/file {blob}\n",
    )
    assert result.returncode == 0, result.stderr
    received = result.stdout[result.stdout.index("←") :]
    assert "binary 4 B" in received
    assert "00000000  de ad be ef" in received
    assert "|....|" in received
    assert "binary 40 B" in received
    assert "00000020  20 21 22 23 24 25 26 27" in received
    assert "| !\"#$%&'|" in received


def test_expect_exits_as_soon_as_the_messages_arrived(echo_server: ServerProcess) -> None:
    # An idle timeout far beyond the subprocess timeout: only --expect can end this run.
    result = probe(f"{echo_server.ws_url}/burst/3", "--expect", "3", "--idle-timeout", "300")
    assert result.returncode == 0, result.stderr
    assert [line.split("  ", 1)[1] for line in lines_with(result.stdout, "←")] == [
        "message 0",
        "message 1",
        "message 2",
    ]


def test_expect_not_met_before_idle_timeout_exits_3(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/burst/3", "--expect", "5", "--idle-timeout", "0.3")
    assert result.returncode == 3
    assert "expected 5 message(s) but got 3" in result.stderr
    assert "--idle-timeout" in result.stderr


def test_idle_timeout_ends_a_quiet_session_normally(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/silent", "--send", "anyone?", "--idle-timeout", "0.3")
    assert result.returncode == 0, result.stderr
    assert "1000 normal closure (closed by this client)" in result.stdout


@pytest.mark.parametrize(
    ("path", "shown", "exit_code"),
    [
        (
            "/close/4001/bye-now",
            "4001 application-defined, reason 'bye-now' (closed by the server)",
            0,
        ),
        ("/close/1000/done", "1000 normal closure, reason 'done' (closed by the server)", 0),
        ("/close/1011/boom", "1011 internal error, reason 'boom' (closed by the server)", 1),
        ("/close/1008/no", "1008 policy violation, reason 'no' (closed by the server)", 1),
    ],
)
def test_server_close_shows_code_name_and_reason(
    echo_server: ServerProcess, path: str, shown: str, exit_code: int
) -> None:
    result = probe(f"{echo_server.ws_url}{path}", "--send", "hi")
    assert result.returncode == exit_code, result.stderr
    assert shown in result.stdout


def test_dropped_connection_is_said_plainly(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/drop", "--send", "hi")
    assert result.returncode == 1
    assert "connection dropped without a close frame (1006 abnormal closure)" in result.stdout


def test_refused_handshake_shows_status_and_body(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/reject", "--send", "hi")
    assert result.returncode == 1
    assert "refused the WebSocket handshake" in result.stderr
    assert "HTTP 403 Forbidden" in result.stderr
    assert "no entry: token missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_connection_refused_names_the_url_and_suggests_velocipy_run() -> None:
    port = free_port()  # nothing listens here
    result = probe("/ws", "--port", str(port), "--send", "hi")
    assert result.returncode == 1
    assert f"ws://127.0.0.1:{port}/ws" in result.stderr
    assert "connection refused" in result.stderr
    assert "velocipy run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_subprotocol_origin_and_headers_reach_the_server(echo_server: ServerProcess) -> None:
    result = probe(
        f"{echo_server.ws_url}/inspect",
        "-s",
        "chat.v1",
        "-s",
        "chat.v2",
        "-H",
        "X-Token: abc 123",
        "-H",
        "User-Agent: probe-test/1",
        "--origin",
        "http://localhost:3000",
        "--jsonl",
        "--expect",
        "1",
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["event"] == "open"
    assert records[0]["subprotocol"] == "chat.v2"
    report = records[1]["json"]
    assert report["headers"]["x-token"] == "abc 123"
    assert report["headers"]["user-agent"] == "probe-test/1"
    assert report["headers"]["origin"] == "http://localhost:3000"
    assert report["headers"]["sec-websocket-protocol"] == "chat.v1, chat.v2"
    assert report["subprotocol"] == "chat.v2"


def test_jsonl_has_one_object_per_frame(echo_server: ServerProcess) -> None:
    result = probe(
        f"{echo_server.ws_url}/echo",
        "--jsonl",
        "--expect",
        "3",
        stdin='plain\n{"a": 1}\n/bin 00ff\n',
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    events = [record["event"] for record in records]
    assert events[0] == "open"
    assert events[-1] == "close"
    assert events.count("sent") == 3
    assert events.count("received") == 3
    received = [record for record in records if record["event"] == "received"]
    assert received[0] == {**received[0], "type": "text", "size": 5, "text": "plain"}
    assert "json" not in received[0]
    assert received[1]["json"] == {"a": 1}
    assert received[2]["type"] == "binary"
    assert received[2]["size"] == 2
    assert base64.b64decode(received[2]["base64"]) == b"\x00\xff"
    close = records[-1]
    assert (close["code"], close["name"], close["initiator"]) == (1000, "normal closure", "client")
    assert all(isinstance(record["time"], float) for record in records)


def test_slash_commands_work_in_scripts(echo_server: ServerProcess) -> None:
    result = probe(
        f"{echo_server.ws_url}/echo",
        stdin="//starts with a slash\n/ping hello\n/close 4002 finished\n",
    )
    assert result.returncode == 0, result.stderr
    assert "text 20 B  /starts with a slash" in result.stdout
    assert re.search(r"pong round trip \d+\.\d ms", result.stdout)
    assert "4002 application-defined, reason 'finished' (closed by this client)" in result.stdout


def test_message_over_max_size_is_a_protocol_error(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/echo", "--max-size", "8", "--send", "x" * 20)
    assert result.returncode == 1
    assert "1009 message too big" in result.stdout
    assert "--max-size" in result.stderr


def test_control_characters_are_escaped(echo_server: ServerProcess) -> None:
    result = probe(f"{echo_server.ws_url}/echo", "--send", "red\x1b[31m\tbell\x07", "--expect", "1")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "red\\x1b[31m\\tbell\\x07" in result.stdout


def test_timestamps_can_be_turned_off(echo_server: ServerProcess) -> None:
    shown = probe(f"{echo_server.ws_url}/echo", "--send", "t", "--expect", "1")
    hidden = probe(f"{echo_server.ws_url}/echo", "--send", "t", "--expect", "1", "--no-timestamps")
    assert TIMESTAMP.search(lines_with(shown.stdout, "←")[0])
    assert lines_with(hidden.stdout, "←") == ["← text 1 B  t"]


def test_path_target_uses_project_settings(echo_server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\n\n[tool.velocipy]\nport = {echo_server.port}\n'
    )
    result = probe("/echo", "--send", "from settings", "--expect", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "text 13 B  from settings" in lines_with(result.stdout, "←")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ws://127.0.0.1:9/x", "-H", "no colon"], 'expected "Name: value"'),
        (["ws://127.0.0.1:9/x", "-H", "Bad Name: v"], "invalid header name"),
        (["ws://127.0.0.1:9/x", "-H", "Sec-WebSocket-Protocol: x"], "use -s/--subprotocol"),
        (["ftp://127.0.0.1/x"], "unsupported URL scheme 'ftp'"),
        (["localhost:8000/ws"], "did you mean ws://localhost:8000/ws?"),
        (["ws://[::1/x"], "invalid WebSocket URL"),
        (["ws://127.0.0.1:99999/x"], "invalid WebSocket URL"),
        (["ws://127.0.0.1:9/x#frag"], "fragment"),
        (["ws://127.0.0.1:9/x", "-s", "a b"], "invalid subprotocol"),
        (["ws://127.0.0.1:9/x", "--origin", "nope"], "invalid origin"),
        (["ws://127.0.0.1:9/x", "--json", "--send", "{bad"], "not valid JSON"),
        (["ws://127.0.0.1:9/x", "--send", "/close 1006"], "reserved"),
        (["ws://127.0.0.1:9/x", "--port", "1"], "only apply when TARGET is a path"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = probe(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_self_signed_tls_needs_insecure(tls_echo_server: ServerProcess) -> None:
    url = f"wss://127.0.0.1:{tls_echo_server.port}/echo"
    refused = probe(url, "--send", "secret")
    assert refused.returncode == 1
    assert "TLS certificate check failed" in refused.stderr
    assert "--insecure" in refused.stderr
    accepted = probe(url, "--insecure", "--send", "secret", "--expect", "1")
    assert accepted.returncode == 0, accepted.stderr
    assert "text 6 B  secret" in lines_with(accepted.stdout, "←")[0]


def test_plain_ws_to_a_tls_server_hints_at_the_scheme(tls_echo_server: ServerProcess) -> None:
    result = probe(f"ws://127.0.0.1:{tls_echo_server.port}/echo", "--send", "x")
    assert result.returncode == 1
    assert "does the scheme (ws:// or wss://) match?" in result.stderr
