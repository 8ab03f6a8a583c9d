"""WebSocket transcripts: what ``velocipy ws-probe --record`` writes, replayed as a regression test.

A transcript is the probe's ``--jsonl`` output kept in a file: one JSON object per line, with
``event`` one of ``open``, ``sent``, ``received``, ``pong``, ``close``. Replaying it sends every
``sent`` message in order and checks that each ``received`` one comes back the same, except for
the fields named as ignored (ids, timestamps). :func:`replay_transcript` does that through the
test client on ASGI or RSGI; ``velocipy ws-probe --replay`` does it against a running server.
Both compare with :func:`mismatch`, so a transcript passes or fails the same way in either place.
"""

from __future__ import annotations

import base64
import difflib
import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "Transcript",
    "TranscriptError",
    "TranscriptMismatch",
    "TranscriptStep",
    "load_transcript",
    "mismatch",
    "replay_transcript",
]


class TranscriptError(ValueError):
    """The file is not a transcript: the message names the line and what is wrong with it."""


class TranscriptMismatch(AssertionError):
    """A reply differed from the recorded one; the message holds a unified diff."""


@dataclass(frozen=True)
class TranscriptStep:
    """One message of a transcript: sent by the client or expected from the server."""

    direction: Literal["sent", "received"]
    payload: str | bytes
    line: int  # where it stands in the file, for messages

    @property
    def kind(self) -> str:
        return "binary" if isinstance(self.payload, bytes) else "text"


def _step(record: Any, line: int) -> TranscriptStep | None:
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        raise TranscriptError(f"line {line}: not a transcript record (no 'event' field)")
    event: Literal["sent", "received"]
    if record["event"] == "sent":
        event = "sent"
    elif record["event"] == "received":
        event = "received"
    else:
        return None  # open, pong, close: context, not messages
    if isinstance(record.get("text"), str):
        return TranscriptStep(event, record["text"], line)
    if isinstance(record.get("base64"), str):
        try:
            return TranscriptStep(event, base64.b64decode(record["base64"], validate=True), line)
        except ValueError:
            raise TranscriptError(f"line {line}: 'base64' is not valid base64") from None
    raise TranscriptError(f"line {line}: a {event} record needs 'text' or 'base64'")


@dataclass(frozen=True)
class Transcript:
    """A loaded transcript: where it was recorded (the first ``open`` record) and its messages."""

    url: str | None
    steps: list[TranscriptStep]


def load_transcript(source: str | Path | Iterable[str]) -> Transcript:
    """A transcript file (a path) or its lines: its recorded URL and its messages, in order."""
    lines: Iterable[str]
    if isinstance(source, str | Path):
        try:
            lines = Path(source).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TranscriptError(f"cannot read {source}: {exc}") from None
    else:
        lines = source
    steps: list[TranscriptStep] = []
    url: str | None = None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            raise TranscriptError(f"line {number}: not JSON") from None
        step = _step(record, number)
        if step is not None:
            steps.append(step)
        elif url is None and record["event"] == "open" and isinstance(record.get("url"), str):
            url = record["url"]
    if not steps:
        raise TranscriptError("the transcript has no sent or received messages")
    return Transcript(url, steps)


def _without(document: Any, ignore: Collection[str]) -> Any:
    """``document`` with every object key named in ``ignore`` removed, at any depth."""
    if isinstance(document, dict):
        return {k: _without(v, ignore) for k, v in document.items() if k not in ignore}
    if isinstance(document, list):
        return [_without(item, ignore) for item in document]
    return document


def _comparable(payload: str | bytes, ignore: Collection[str]) -> str:
    """How a payload is compared and shown: JSON pretty-printed without ignored fields."""
    if isinstance(payload, bytes):
        return f"binary {len(payload)} bytes: {payload.hex()}"
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(document, dict | list):
        return payload
    return json.dumps(_without(document, ignore), indent=2, sort_keys=True, ensure_ascii=False)


def mismatch(
    expected: TranscriptStep, got: str | bytes, ignore: Collection[str] = ()
) -> str | None:
    """None when ``got`` matches the recorded reply, else a unified diff (expected -> got)."""
    want, have = _comparable(expected.payload, ignore), _comparable(got, ignore)
    if want == have:
        return None
    diff = difflib.unified_diff(
        want.splitlines(),
        have.splitlines(),
        fromfile=f"recorded (line {expected.line})",
        tofile="received",
        lineterm="",
    )
    return "\n".join(diff)


class _TestSession(Protocol):
    """The part of the test client's WebSocket session a replay uses."""

    def send_text(self, data: str) -> None: ...
    def send_bytes(self, data: bytes) -> None: ...
    def receive(self, timeout: float | None = None) -> str | bytes: ...


def replay_transcript(
    session: _TestSession,
    transcript: str | Path | Iterable[str] | Transcript,
    *,
    ignore: Collection[str] = (),
    timeout: float = 5.0,
    on_step: Callable[[TranscriptStep], None] | None = None,
) -> None:
    """Replay ``transcript`` through an open test-client WebSocket; raise on the first mismatch.

    ``ignore`` names JSON object keys left out of the comparison wherever they appear.
    """
    loaded = transcript if isinstance(transcript, Transcript) else load_transcript(transcript)
    for step in loaded.steps:
        if on_step is not None:
            on_step(step)
        if step.direction == "sent":
            if isinstance(step.payload, bytes):
                session.send_bytes(step.payload)
            else:
                session.send_text(step.payload)
            continue
        diff = mismatch(step, session.receive(timeout=timeout), ignore)
        if diff is not None:
            raise TranscriptMismatch(f"reply differs from the transcript:\n{diff}")
