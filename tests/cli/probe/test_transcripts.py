"""`ws-probe --record` and `--replay`: a transcript becomes a regression test, against a real
server (uvicorn, granian RSGI) and through the test client (ASGI and RSGI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.probe.helpers import probe
from tests.support import ServerProcess, free_port, running, server_argv
from velocipy.testing import TestClient, TranscriptMismatch, replay_transcript
from velocipy.testing.transcripts import load_transcript

ORDERS_APP = """
import itertools
from velocipy import VelociPy, WebSocket

app = VelociPy()
ids = itertools.count(100)


@app.websocket("/orders")
async def orders(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_json({{"type": "hello", "session": next(ids)}})
    while True:
        order = await ws.receive_json()
        await ws.send_json(
            {{"id": next(ids), "item": order["item"], "status": "{status}", "lines": [{{"n": 1}}]}}
        )
"""

SENDS = ('{"item": "pen"}', '{"item": "ink"}')


def write_app(folder: Path, status: str) -> None:
    (folder / "orders_app.py").write_text(ORDERS_APP.format(status=status))


def record(server: ServerProcess, transcript: Path) -> None:
    args = [f"{server.ws_url}/orders", "--record", str(transcript), "--expect", "3"]
    for line in SENDS:
        args += ["--send", line]
    result = probe(*args)
    assert result.returncode == 0, result.stderr


@pytest.mark.interop
@pytest.mark.parametrize("kind", ["uvicorn", "granian-rsgi"])
def test_a_recorded_session_replays_and_a_changed_reply_fails_with_a_diff(
    kind: str, tmp_path: Path
) -> None:
    write_app(tmp_path, "accepted")
    transcript = tmp_path / "session.jsonl"
    port = free_port()
    argv = server_argv(kind, "orders_app:app", port)
    with running(argv, port=port, cwd=tmp_path) as server:
        record(server, transcript)
        records = [json.loads(line) for line in transcript.read_text().splitlines()]
        events = [r["event"] for r in records]
        assert (events[0], events[-1]) == ("open", "close")
        # --send lines go out at once: the greeting may arrive before or after them
        assert sorted(events[1:-1]) == ["received", "received", "received", "sent", "sent"]
        assert records[0]["url"] == f"{server.ws_url}/orders"
        replies = [r["json"] for r in records if r["event"] == "received"]
        assert replies[1:] == [
            {"id": 101, "item": "pen", "status": "accepted", "lines": [{"n": 1}]},
            {"id": 102, "item": "ink", "status": "accepted", "lines": [{"n": 1}]},
        ]

        # The same app, with the ids that change on every run left out: every reply matches.
        replayed = probe("--replay", str(transcript), "--ignore", "id", "--ignore", "session")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 5 messages: all 3 replies match" in replayed.stderr

        # Without --ignore the counter moved on: the first reply differs, with a diff.
        strict = probe("--replay", str(transcript))
        assert strict.returncode == 3
        greeting_line = 1 + events.index("received")
        assert f"reply differs from the transcript (line {greeting_line})" in strict.stderr
        assert '-  "session": 100' in strict.stderr
        assert '+  "session": 106' in strict.stderr  # 3 ids per run: 100-102, then 103-105

    write_app(tmp_path, "queued")  # the app changes its reply
    with running(argv, port=port, cwd=tmp_path):
        changed = probe("--replay", str(transcript), "--ignore", "id", "--ignore", "session")
    assert changed.returncode == 3
    first_order_line = 1 + next(
        number
        for number, line in enumerate(transcript.read_text().splitlines())
        if '"item":"pen","status"' in line
    )
    assert f"reply differs from the transcript (line {first_order_line})" in changed.stderr
    assert '-  "status": "accepted"' in changed.stderr
    assert '+  "status": "queued"' in changed.stderr
    assert "Traceback" not in changed.stderr


def test_record_keeps_exactly_what_jsonl_prints(echo_server: ServerProcess, tmp_path: Path) -> None:
    transcript = tmp_path / "echo.jsonl"
    result = probe(
        f"{echo_server.ws_url}/echo", "--jsonl", "--record", str(transcript), stdin="a\n/bin 00ff\n"
    )
    assert result.returncode == 0, result.stderr
    assert transcript.read_text() == result.stdout
    steps = load_transcript(transcript).steps
    sent = [step.payload for step in steps if step.direction == "sent"]
    received = [step.payload for step in steps if step.direction == "received"]
    assert sent == received == ["a", b"\x00\xff"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not JSON"),
        (
            '{"event": "open", "url": "ws://127.0.0.1:1/x"}\n[1]\n',
            "line 2: not a transcript record (no 'event' field)",
        ),
        ('{"event": "sent", "type": "text"}\n', "line 1: a sent record needs 'text' or 'base64'"),
        ('{"event": "sent", "base64": "@@"}\n', "line 1: 'base64' is not valid base64"),
        (
            '{"event": "open", "url": "ws://127.0.0.1:1/x"}\n',
            "the transcript has no sent or received messages",
        ),
    ],
)
def test_a_broken_transcript_is_one_usage_line(tmp_path: Path, content: str, message: str) -> None:
    transcript = tmp_path / "broken.jsonl"
    transcript.write_text(content)
    result = probe("--replay", str(transcript))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --replay {transcript}: {message}"


def test_replay_usage_errors(tmp_path: Path) -> None:
    missing = probe("--replay", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2
    assert f"--replay {tmp_path / 'nope.jsonl'}: cannot read" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    no_target = probe()
    assert no_target.returncode == 2
    assert no_target.stderr.splitlines() == [
        "error: missing TARGET (see 'velocipy ws-probe -h')",
        "usage: velocipy ws-probe [OPTIONS] [TARGET]",
    ]
    nowhere = probe("/ws", "--record", str(tmp_path / "no" / "dir.jsonl"), "--send", "x")
    assert nowhere.returncode == 2
    assert f"the folder {tmp_path / 'no'} does not exist" in nowhere.stderr


@pytest.mark.parametrize("interface", ["asgi", "rsgi"])
def test_the_test_client_replays_a_transcript(interface: str, tmp_path: Path) -> None:
    write_app(tmp_path, "accepted")
    lines = [
        '{"event":"open","url":"ws://testserver/orders","subprotocol":null}',
        '{"event":"received","type":"text","text":"{\\"type\\":\\"hello\\",\\"session\\":7}"}',
        '{"event":"sent","type":"text","text":"{\\"item\\": \\"pen\\"}"}',
        '{"event":"received","type":"text","text":'
        '"{\\"id\\":1,\\"item\\":\\"pen\\",\\"status\\":\\"accepted\\",\\"lines\\":[{\\"n\\":1}]}"}',
    ]
    namespace: dict[str, object] = {}
    exec(compile((tmp_path / "orders_app.py").read_text(), "orders_app.py", "exec"), namespace)
    with TestClient(namespace["app"], interface=interface) as client:
        with client.websocket_connect("/orders") as ws:
            replay_transcript(ws, lines, ignore={"id", "session"})
        with client.websocket_connect("/orders") as ws:
            changed = [*lines[:-1], lines[-1].replace("accepted", "shipped")]
            with pytest.raises(TranscriptMismatch) as caught:
                replay_transcript(ws, changed, ignore={"id", "session"})
    assert '-  "status": "shipped"' in str(caught.value)
    assert '+  "status": "accepted"' in str(caught.value)
