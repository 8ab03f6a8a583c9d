"""How frames look: human lines for the terminal (rich) and records for ``--jsonl``.

Everything here is pure: it builds rich renderables and dicts; ``display.py`` prints them.
"""

from __future__ import annotations

import base64
import json
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.text import Text

from velocipy_cli.probe.actions import SLASH_COMMANDS
from velocipy_cli.probe.close_codes import close_code_name
from velocipy_cli.probe.outcomes import CloseInfo

Direction = Literal["sent", "received"]

ARROWS: dict[Direction, str] = {"sent": "→", "received": "←"}
ARROW_STYLES: dict[Direction, str] = {"sent": "bold cyan", "received": "bold green"}
HEX_DUMP_LIMIT = 1024  # bytes of a binary frame shown on screen; --jsonl always has all of them
_BYTES_PER_ROW = 16
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Bidirectional overrides and isolates can reorder what the terminal shows; line and
# paragraph separators break lines. Escape them along with control characters.
_INVISIBLE_FORMATTING = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)


@dataclass(frozen=True)
class Frame:
    """One data message that went by: a text frame (str) or a binary frame (bytes)."""

    direction: Direction
    payload: str | bytes
    at: float  # time.time() when it was sent or received

    @property
    def kind(self) -> Literal["text", "binary"]:
        return "text" if isinstance(self.payload, str) else "binary"

    @property
    def size(self) -> int:
        """Payload size in bytes on the wire (UTF-8 for text)."""
        if isinstance(self.payload, str):
            return len(self.payload.encode("utf-8", "surrogatepass"))
        return len(self.payload)


def escape_control_characters(text: str) -> str:
    r"""Show control characters as escapes (``\n``, ``\x1b``): frames must not drive a terminal."""
    if text.isprintable():
        return text
    pieces: list[str] = []
    for char in text:
        if char in _NAMED_ESCAPES:
            pieces.append(_NAMED_ESCAPES[char])
        elif unicodedata.category(char) in ("Cc", "Cs") or char in _INVISIBLE_FORMATTING:
            code = ord(char)
            pieces.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            pieces.append(char)
    return "".join(pieces)


def parse_json_document(text: str) -> dict[str, Any] | list[Any] | None:
    """The parsed value when ``text`` is a JSON object or array, else None (plain text)."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # json.loads would otherwise accept NaN/Infinity


def hex_dump(data: bytes, limit: int = HEX_DUMP_LIMIT) -> list[str]:
    """Rows of ``offset  hex bytes  |ascii|``, at most ``limit`` bytes, then a count of the rest."""
    rows: list[str] = []
    shown = data[:limit]
    for offset in range(0, len(shown), _BYTES_PER_ROW):
        chunk = shown[offset : offset + _BYTES_PER_ROW]
        left = " ".join(f"{byte:02x}" for byte in chunk[:8])
        right = " ".join(f"{byte:02x}" for byte in chunk[8:])
        ascii_column = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        rows.append(f"{offset:08x}  {left:<23}  {right:<23}  |{ascii_column}|")
    if len(data) > limit:
        rows.append(f"… {len(data) - limit} more bytes not shown")
    return rows


def format_size(size: int) -> str:
    return f"{size} B"


def format_timestamp(at: float) -> str:
    """Local wall-clock time with milliseconds: 14:03:27.512."""
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def describe_close(info: CloseInfo) -> str:
    """One sentence for the end of a connection: code, standard name, reason, who closed."""
    if info.initiator == "nobody":
        return (
            "without a close frame (1006 abnormal closure): "
            "the server went away, crashed or the network failed"
        )
    text = f"{info.code} {close_code_name(info.code)}"
    if info.reason:
        text += f", reason {escape_control_characters(info.reason)!r}"
    if info.initiator == "server":
        return f"{text} (closed by the server)"
    if not info.answered:
        return f"{text} (closed by this client; the server never answered the close)"
    return f"{text} (closed by this client)"


class FrameRenderer:
    """Builds the on-screen form of frames, closes and pongs."""

    def __init__(self, *, timestamps: bool = True) -> None:
        self.timestamps = timestamps

    def _head(self, symbol: str, style: str, at: float, label: str) -> Text:
        head = Text()
        head.append(symbol, style=style)
        if self.timestamps:
            head.append(" " + format_timestamp(at), style="dim")
        head.append(" " + label, style="bold")
        return head

    def frame(self, frame: Frame) -> RenderableType:
        symbol, style = ARROWS[frame.direction], ARROW_STYLES[frame.direction]
        size = format_size(frame.size)
        if isinstance(frame.payload, bytes):
            head = self._head(symbol, style, frame.at, f"binary {size}")
            rows = hex_dump(frame.payload)
            return Group(head, *(Text("  " + row) for row in rows))
        document = parse_json_document(frame.payload)
        if document is None:
            head = self._head(symbol, style, frame.at, f"text {size}")
            head.append("  ")
            head.append(escape_control_characters(frame.payload))
            return head
        head = self._head(symbol, style, frame.at, f"json {size}")
        pretty = json.dumps(document, indent=2, ensure_ascii=False)
        lines = ("  " + escape_control_characters(line) for line in pretty.split("\n"))
        body = Text("\n".join(lines))
        return Group(head, JSONHighlighter()(body))

    def close(self, info: CloseInfo, at: float) -> Text:
        style = "bold" if info.code in (1000, 1001) else "bold red"
        label = "connection dropped" if info.initiator == "nobody" else "close"
        head = self._head("■", style, at, label)
        head.append(" " + describe_close(info))
        return head

    def pong(self, rtt: float, at: float) -> Text:
        head = self._head("↔", "bold magenta", at, "pong")
        head.append(f" round trip {rtt * 1000:.1f} ms")
        return head


def frame_record(frame: Frame) -> dict[str, Any]:
    """The ``--jsonl`` object for a data frame."""
    record: dict[str, Any] = {
        "event": frame.direction,
        "time": round(frame.at, 6),
        "type": frame.kind,
        "size": frame.size,
    }
    if isinstance(frame.payload, bytes):
        record["base64"] = base64.b64encode(frame.payload).decode("ascii")
    else:
        record["text"] = frame.payload
        document = parse_json_document(frame.payload)
        if document is not None:
            record["json"] = document
    return record


def close_record(info: CloseInfo, at: float) -> dict[str, Any]:
    return {
        "event": "close",
        "time": round(at, 6),
        "code": info.code,
        "name": close_code_name(info.code),
        "reason": info.reason,
        "initiator": info.initiator,
    }


def open_record(url: str, subprotocol: str | None, at: float) -> dict[str, Any]:
    return {"event": "open", "time": round(at, 6), "url": url, "subprotocol": subprotocol}


def pong_record(rtt: float, at: float) -> dict[str, Any]:
    return {"event": "pong", "time": round(at, 6), "rtt_ms": round(rtt * 1000, 3)}


def escape_control_characters_block(text: str, indent: str = "  ") -> str:
    """Escape control characters line by line, keeping the line breaks of a multi-line body."""
    return "\n".join(indent + escape_control_characters(line) for line in text.splitlines())


def help_view() -> Text:
    """The /help answer: every slash command with one line about it."""
    text = Text("Type a line to send it as a text frame. Commands:\n", style="bold")
    width = max(len(usage) for usage, _ in SLASH_COMMANDS)
    for usage, description in SLASH_COMMANDS:
        text.append(f"  {usage:<{width}}  ", style="cyan")
        text.append(description + "\n")
    text.rstrip()
    return text


def headers_view(
    status: int, reason: str, headers: list[tuple[str, str]], subprotocol: str | None
) -> Text:
    """The /headers answer: the handshake response's status line, headers and subprotocol."""
    text = Text(f"HTTP {status} {reason}\n", style="bold")
    for name, value in headers:
        text.append(f"{name}: ", style="cyan")
        text.append(escape_control_characters(value) + "\n")
    text.append("negotiated subprotocol: ", style="bold")
    text.append(subprotocol or "(none)")
    return text


def load_summary_view(summary: dict[str, Any]) -> Text:
    """What `ws-probe --clients N` prints at the end (``--json`` prints ``summary`` itself)."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:g} ms"

    latency = summary["latency_ms"]
    text = Text(f"{summary['url']}\n", style="bold")
    text.append(
        f"  clients      {summary['opened']} of {summary['clients']} connected\n"
        f"  messages     {summary['sent']} sent, {summary['received']} received, "
        f"{summary['replies']} replies in {summary['seconds']:g} s\n"
        f"  rate         {summary['messages_per_second']:g} replies/s\n"
        f"  latency      p50 {ms(latency['p50'])}, p90 {ms(latency['p90'])}, "
        f"p99 {ms(latency['p99'])}, max {ms(latency['max'])}\n"
    )
    closes = ", ".join(
        f"{code} {close_code_name(int(code))} x{count}"
        for code, count in summary["close_codes"].items()
    )
    text.append(f"  closes       {closes or '-'}\n")
    for message, count in summary["errors"].items():
        text.append(f"  error        {escape_control_characters(message)} x{count}\n", style="red")
    text.rstrip()
    return text
