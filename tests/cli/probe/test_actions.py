"""Input lines to actions: text, --json, slash commands (velocipy_cli.probe.actions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocipy_cli.probe.actions import (
    Close,
    InputError,
    Ping,
    Quit,
    SendBinary,
    SendText,
    ShowHeaders,
    ShowHelp,
    parse_line,
)


def test_plain_lines_are_text_and_empty_lines_send_nothing() -> None:
    assert parse_line("hello world") == SendText("hello world")
    assert parse_line("  padded  ") == SendText("  padded  ")
    assert parse_line("") is None


def test_double_slash_sends_text_starting_with_a_slash() -> None:
    assert parse_line("//etc/passwd") == SendText("/etc/passwd")


def test_json_is_checked_but_sent_as_typed() -> None:
    assert parse_line('/json {"a":  1}') == SendText('{"a":  1}')
    assert parse_line("[1, 2]", json_only=True) == SendText("[1, 2]")
    for bad in ("/json {nope", "/json NaN", "/json"):
        with pytest.raises(InputError, match="not valid JSON"):
            parse_line(bad)
    with pytest.raises(InputError, match="not valid JSON"):
        parse_line("plain words", json_only=True)


def test_hex_allows_spaces_colons_and_0x() -> None:
    assert parse_line("/bin de ad be ef") == SendBinary(b"\xde\xad\xbe\xef")
    assert parse_line("/bin 0x00ff") == SendBinary(b"\x00\xff")
    assert parse_line("/bin 01:02:03") == SendBinary(b"\x01\x02\x03")
    assert parse_line("/bin") == SendBinary(b"")
    with pytest.raises(InputError, match="not valid hex"):
        parse_line("/bin abc")


def test_file_sends_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01payload")
    assert parse_line(f"/file {path}") == SendBinary(b"\x00\x01payload")
    with pytest.raises(InputError, match="cannot read"):
        parse_line(f"/file {tmp_path / 'missing.bin'}")
    with pytest.raises(InputError, match="needs a path"):
        parse_line("/file")


def test_ping_payload_is_optional_and_limited() -> None:
    assert parse_line("/ping") == Ping(None)
    assert parse_line("/ping hello") == Ping(b"hello")
    with pytest.raises(InputError, match="at most 125 bytes"):
        parse_line("/ping " + "x" * 126)


def test_close_code_and_reason() -> None:
    assert parse_line("/close") == Close(1000, "")
    assert parse_line("/close 4001") == Close(4001, "")
    assert parse_line("/close 1001 going home now") == Close(1001, "going home now")
    for bad, message in [
        ("/close soon", "must be a number"),
        ("/close 1005", "reserved"),
        ("/close 2000", "not allowed"),
        ("/close 1000 " + "r" * 124, "at most 123 bytes"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_line(bad)


def test_simple_commands_and_unknown_ones() -> None:
    assert parse_line("/headers") == ShowHeaders()
    assert parse_line("/help") == ShowHelp()
    assert parse_line("/quit") == Quit()
    with pytest.raises(InputError, match="takes no arguments"):
        parse_line("/quit now")
    with pytest.raises(InputError, match="unknown command /exit"):
        parse_line("/exit")
