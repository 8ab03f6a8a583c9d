"""`ws-probe --clients N`: load mode against VelociPy on uvicorn (ASGI) and granian (RSGI)."""

from __future__ import annotations

import json

from tests.cli.probe.helpers import probe
from tests.support import ServerProcess, free_port


def summary_of(*args: str) -> dict[str, object]:
    result = probe(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_every_message_is_answered_and_counted(velocipy_server: ServerProcess) -> None:
    summary = summary_of(f"{velocipy_server.ws_url}/ws", "--clients", "8", "--duration", "1")
    assert summary["clients"] == summary["opened"] == 8
    replies = summary["replies"]
    assert isinstance(replies, int)
    assert replies > 0
    assert summary["sent"] == summary["received"] == replies  # one reply per message, none lost
    assert summary["close_codes"] == {"1000": 8}  # the probe closed every connection itself
    assert summary["errors"] == {}
    latency = summary["latency_ms"]
    assert isinstance(latency, dict)
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert summary["messages_per_second"] == round(replies / summary["seconds"], 1)  # type: ignore[operator]


def test_a_rate_paces_the_sends(velocipy_server: ServerProcess) -> None:
    clients, rate, duration = 4, 20, 1
    summary = summary_of(
        f"{velocipy_server.ws_url}/ws",
        "--clients", str(clients), "--rate", str(rate), "--duration", str(duration),
        "--send", "paced",
    )  # fmt: skip
    sent = summary["sent"]
    assert isinstance(sent, int)
    # Each client sends at most once per clients/rate seconds, plus its first message.
    assert clients <= sent <= rate * duration + clients
    assert summary["replies"] == sent


def test_a_binary_message_is_sent_as_binary(velocipy_server: ServerProcess) -> None:
    url = f"{velocipy_server.ws_url}/bytes"  # answers binary frames only, reversed
    summary = summary_of(url, "--clients", "2", "--duration", "0.5", "--send", "/bin 01 02")
    assert summary["errors"] == {}
    assert summary["replies"] == summary["sent"]


def test_refusals_and_failures_are_counted_and_exit_1(velocipy_server: ServerProcess) -> None:
    refused = probe(f"{velocipy_server.ws_url}/nope", "--clients", "3", "--duration", "0.5")
    assert refused.returncode == 1
    assert "0 of 3 connected" in refused.stdout
    assert "handshake refused: HTTP 403 x3" in refused.stdout
    nobody = probe(f"ws://127.0.0.1:{free_port()}/ws", "--clients", "2", "--duration", "0.5")
    assert nobody.returncode == 1
    assert "connection refused. Is the server running?" in nobody.stdout
    assert "Traceback" not in refused.stderr + nobody.stderr


def test_load_mode_usage_errors() -> None:
    for args, message in [
        (("/ws", "--clients", "2", "--record", "x.jsonl"), "cannot --record or --replay"),
        (("/ws", "--clients", "2", "--send", "a", "--send", "b"), "give --send once"),
        (("/ws", "--clients", "2", "--send", "/ping"), "--send takes text or /bin"),
    ]:
        result = probe(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_load_mode_ranges() -> None:
    for args, message in [
        (("/ws", "--clients", "0"), "--clients: 0 is below the minimum of 1"),
        (("/ws", "--clients", "2", "--rate", "-1"), "--rate: -1 is below the minimum of 0"),
        (("/ws", "--clients", "2", "--duration", "0"), "--duration: 0 is below the minimum"),
    ]:
        result = probe(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
