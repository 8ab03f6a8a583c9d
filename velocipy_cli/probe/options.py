"""Everything one `velocipy ws-probe` run was asked to do, already checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velocipy.testing.transcripts import Transcript

DEFAULT_MAX_SIZE = 1024 * 1024
DEFAULT_IDLE_TIMEOUT = 2.0
DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProbeOptions:
    """Checked options; the command module builds it, the session reads it."""

    url: str
    url_source: str = "URL"
    headers: tuple[tuple[str, str], ...] = ()
    subprotocols: tuple[str, ...] = ()
    origin: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    insecure: bool = False
    json_only: bool = False  # --json: plain lines must be valid JSON
    timestamps: bool = True
    max_size: int | None = DEFAULT_MAX_SIZE  # None: no limit
    interactive: bool = False
    sends: tuple[str, ...] = ()  # --send values; empty: read stdin (scripted) or the prompt
    expect: int | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    jsonl: bool = False
    reconnect: bool = False
    record: Path | None = None  # --record: keep the --jsonl records in this file
    replay: Transcript | None = None  # --replay: send its messages, check the replies
    ignore: tuple[str, ...] = ()  # --ignore: JSON keys a replay leaves out of the comparison
