"""The installed `velocipy ws-probe` against a VelociPy app on uvicorn (ASGI) and granian (RSGI).

Granian's RSGI has no subprotocol negotiation and no close codes (design/rsgi.md): there the
probe must report what actually arrived, no subprotocol and 1005, rather than what the app asked.
"""

from __future__ import annotations

import json

from tests.cli.probe.helpers import probe
from tests.support import ServerProcess


def is_rsgi(server: ServerProcess) -> bool:
    return "rsgi" in server.argv


def received_lines(output: str) -> list[str]:
    return [line.split("  ", 1)[1] for line in output.splitlines() if line.startswith("←")]


def test_text_round_trip(velocipy_server: ServerProcess) -> None:
    result = probe("/ws", "--port", str(velocipy_server.port), "--expect", "2", stdin="one\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert received_lines(result.stdout) == ["echo: one", "echo: two"]


def test_json_round_trip(velocipy_server: ServerProcess) -> None:
    result = probe(
        f"{velocipy_server.ws_url}/json",
        "--json",
        "--jsonl",
        "--expect",
        "1",
        "--send",
        '{"x": [1, "two", null]}',
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    received = [record for record in records if record["event"] == "received"]
    assert received[0]["json"] == {"got": {"x": [1, "two", None]}}


def test_binary_round_trip(velocipy_server: ServerProcess) -> None:
    result = probe(f"{velocipy_server.ws_url}/bytes", "--expect", "1", "--send", "/bin 01 02 03 ff")
    assert result.returncode == 0, result.stderr
    received = result.stdout[result.stdout.index("←") :]
    assert "binary 4 B" in received
    assert "00000000  ff 03 02 01" in received


def test_path_query_header_and_subprotocol_reach_the_app(velocipy_server: ServerProcess) -> None:
    result = probe(
        "/rooms/42?x=1",
        "--port",
        str(velocipy_server.port),
        "-s",
        "chat.v1",
        "-H",
        "X-Client-Name: ada",
        "--jsonl",
        "--expect",
        "2",
        "--send",
        "hi",
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["subprotocol"] == (None if is_rsgi(velocipy_server) else "chat.v1")
    received = [record for record in records if record["event"] == "received"]
    assert received[0]["json"] == {"room": "42", "client": "ada", "query": "x=1"}
    assert received[1]["text"] == "[42] hi"


def test_app_close_code_and_reason_are_named(velocipy_server: ServerProcess) -> None:
    result = probe(f"{velocipy_server.ws_url}/bye", "--send", "hi")
    assert result.returncode == 0, result.stderr
    if is_rsgi(velocipy_server):
        assert "close 1005 no status received (closed by the server)" in result.stdout
    else:
        assert "4000 application-defined, reason 'see you' (closed by the server)" in result.stdout


def test_missing_route_refuses_the_handshake_with_its_status(
    velocipy_server: ServerProcess,
) -> None:
    result = probe(f"{velocipy_server.ws_url}/no-such-socket", "--send", "hi")
    assert result.returncode == 1
    assert "refused the WebSocket handshake" in result.stderr
    assert "HTTP 4" in result.stderr
    assert "Traceback" not in result.stderr
