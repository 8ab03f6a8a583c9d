"""What one input line asks for: a text frame or a slash command (``/json``, ``/bin``, ...).

Interactive and scripted modes read lines the same way, so a script can send binary
frames (``/bin``), ping or close with a code. A line starting with ``//`` sends the text
after the first ``/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from velocipy_cli.probe.close_codes import sendable_close_code_error

MAX_CONTROL_PAYLOAD = 125  # bytes in a ping payload (RFC 6455 section 5.5)
MAX_CLOSE_REASON = 123  # bytes: a close payload is 2 bytes of code + reason, at most 125

SLASH_COMMANDS: tuple[tuple[str, str], ...] = (
    ("/json {...}", "send a text frame after checking it is valid JSON"),
    ("/bin <hex>", "send a binary frame, e.g. /bin de ad be ef"),
    ("/file PATH", "send a file's bytes as one binary frame"),
    ("/ping [payload]", "send a ping and show the round-trip time"),
    ("/close [code] [reason]", "close the connection (default 1000) and exit"),
    ("/headers", "show the handshake response headers and the negotiated subprotocol"),
    ("/types", "list the message types the route takes and sends (from the app's AsyncAPI)"),
    ("/send TYPE [{...}]", "send a message of TYPE; without JSON, its template to edit"),
    ("/force TEXT", "send TEXT even if the route does not take it"),
    ("/help", "show this list"),
    ("/quit", "close normally and exit (also Ctrl-D)"),
    ("//text", "send a text frame that starts with /"),
)
COMMAND_NAMES = tuple(usage.split()[0] for usage, _ in SLASH_COMMANDS if usage[1] != "/")


class InputError(ValueError):
    """A line that cannot be sent as written; the message says why."""


@dataclass(frozen=True)
class SendText:
    text: str
    forced: bool = False  # /force: sent even when the route's AsyncAPI says it takes no such thing


@dataclass(frozen=True)
class SendTyped:
    """``/send TYPE [json]``: a message of one of the route's types (a template without JSON)."""

    name: str
    text: str | None


@dataclass(frozen=True)
class ShowTypes:
    silent: bool = False  # a /send template went to the prompt: nothing to show


@dataclass(frozen=True)
class SendBinary:
    data: bytes


@dataclass(frozen=True)
class Ping:
    payload: bytes | None


@dataclass(frozen=True)
class Close:
    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class ShowHeaders:
    pass


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class Quit:
    pass


Action = (
    SendText | SendTyped | SendBinary | Ping | Close | ShowHeaders | ShowTypes | ShowHelp | Quit
)


def parse_line(line: str, *, json_only: bool = False) -> Action | None:
    """The action for one input line; None for an empty line. Raises InputError.

    With ``json_only`` (``--json``) plain lines must be valid JSON to be sent.
    """
    if not line:
        return None
    if line.startswith("//"):
        return _text(line[1:], json_only)
    if not line.startswith("/"):
        return _text(line, json_only)
    name, _, argument = line.partition(" ")
    argument = argument.strip()
    if name == "/json":
        return _text(argument, json_only=True)
    if name == "/bin":
        return SendBinary(parse_hex(argument))
    if name == "/file":
        return SendBinary(_read_file(argument))
    if name == "/ping":
        return _ping(argument)
    if name == "/close":
        return _close(argument)
    if name == "/send":
        kind, _, text = argument.partition(" ")
        if not kind:
            raise InputError("/send needs a message type: /send TYPE [{...}] (/types lists them)")
        if text.strip():
            check_json(text.strip())
        return SendTyped(kind, text.strip() or None)
    if name == "/force":
        return SendText(argument, forced=True)
    simple: dict[str, Action] = {
        "/headers": ShowHeaders(),
        "/types": ShowTypes(),
        "/help": ShowHelp(),
        "/quit": Quit(),
    }
    if name in simple:
        if argument:
            raise InputError(f"{name} takes no arguments")
        return simple[name]
    raise InputError(
        f"unknown command {name}: type /help for the list (// sends text starting with /)"
    )


def check_json(text: str) -> None:
    """Raise InputError unless ``text`` is one valid JSON value (NaN and Infinity are not JSON)."""
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def _text(text: str, json_only: bool) -> SendText:
    if json_only:
        check_json(text)
    return SendText(text)


def parse_hex(text: str) -> bytes:
    """Bytes from hex digits; spaces, colons and a leading 0x are allowed."""
    digits = text.removeprefix("0x").removeprefix("0X")
    digits = "".join(digits.replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise InputError(
            f"not valid hex: {text!r} (use pairs of 0-9a-f, e.g. /bin 01 ff)"
        ) from None


def _read_file(argument: str) -> bytes:
    if not argument:
        raise InputError("/file needs a path: /file PATH")
    path = Path(argument).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None


def _ping(argument: str) -> Ping:
    if not argument:
        return Ping(None)
    payload = argument.encode()
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise InputError(f"a ping payload is at most {MAX_CONTROL_PAYLOAD} bytes")
    return Ping(payload)


def _close(argument: str) -> Close:
    if not argument:
        return Close()
    code_text, _, reason = argument.partition(" ")
    try:
        code = int(code_text)
    except ValueError:
        raise InputError(
            f"close code must be a number, got {code_text!r}: /close [code] [reason]"
        ) from None
    problem = sendable_close_code_error(code)
    if problem is not None:
        raise InputError(problem)
    reason = reason.strip()
    if len(reason.encode()) > MAX_CLOSE_REASON:
        raise InputError(f"a close reason is at most {MAX_CLOSE_REASON} bytes")
    return Close(code, reason)
