"""Rendering helpers and close-code naming (velocipy_cli.probe.rendering, close_codes)."""

from __future__ import annotations

import base64
import io

import pytest
from rich.console import Console, RenderableType

from velocipy_cli.probe.close_codes import (
    close_code_name,
    exit_code_for_close,
    sendable_close_code_error,
)
from velocipy_cli.probe.outcomes import CloseInfo, ExitCode
from velocipy_cli.probe.rendering import (
    Frame,
    FrameRenderer,
    close_record,
    describe_close,
    escape_control_characters,
    format_timestamp,
    frame_record,
    headers_view,
    help_view,
    hex_dump,
    parse_json_document,
)

AT = 1_700_000_000.25


def plain(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, force_terminal=False)
    console.print(renderable, soft_wrap=True)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (1000, "normal closure"),
        (1001, "going away"),
        (1006, "abnormal closure"),
        (1008, "policy violation"),
        (1009, "message too big"),
        (1011, "internal error"),
        (1012, "service restart"),
        (3003, "registered for libraries and frameworks"),
        (4321, "application-defined"),
        (2000, "unknown code"),
    ],
)
def test_close_codes_have_their_standard_names(code: int, name: str) -> None:
    assert close_code_name(code) == name


def test_which_close_codes_can_be_sent() -> None:
    for code in (1000, 1003, 1011, 1014, 3000, 4999):
        assert sendable_close_code_error(code) is None
    for code in (1004, 1005, 1006, 1015, 999, 2999, 5000):
        assert sendable_close_code_error(code) is not None


def test_exit_codes_for_server_closes() -> None:
    assert exit_code_for_close(1000) is ExitCode.OK
    assert exit_code_for_close(1005) is ExitCode.OK
    assert exit_code_for_close(4000) is ExitCode.OK
    assert exit_code_for_close(1011) is ExitCode.FAILURE
    assert exit_code_for_close(1002) is ExitCode.FAILURE


def test_control_characters_are_escaped_and_the_rest_kept() -> None:
    assert escape_control_characters("plain caf\u00e9 \u2603") == "plain caf\u00e9 \u2603"
    assert escape_control_characters("a\nb\tc\r") == "a\\nb\\tc\\r"
    assert escape_control_characters("\x1b[2J\x00\x7f") == "\\x1b[2J\\x00\\x7f"
    assert escape_control_characters("\u0085 \u202e \u2028") == "\\x85 \\u202e \\u2028"


def test_only_objects_and_arrays_count_as_json_documents() -> None:
    assert parse_json_document('{"a": 1}') == {"a": 1}
    assert parse_json_document(" [1, 2] ") == [1, 2]
    for text in ("42", '"str"', "true", "{broken", "[NaN]", "", "hello"):
        assert parse_json_document(text) is None


def test_hex_dump_rows_and_limit() -> None:
    rows = hex_dump(bytes(range(0x41, 0x41 + 18)))
    assert rows == [
        "00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|",
        "00000010  51 52" + " " * 43 + "  |QR|",
    ]
    assert hex_dump(b"\x00\xff") == ["00000000  00 ff" + " " * 43 + "  |..|"]
    limited = hex_dump(bytes(100), limit=32)
    assert len(limited) == 3
    assert limited[-1] == "… 68 more bytes not shown"
    assert hex_dump(b"") == []


def test_text_frame_line_has_direction_time_size_and_text() -> None:
    frame = Frame("received", "h\u00e9llo\x1b", AT)
    line = plain(FrameRenderer().frame(frame))
    assert line == f"← {format_timestamp(AT)} text 7 B  h\u00e9llo\\x1b\n"
    assert plain(FrameRenderer(timestamps=False).frame(Frame("sent", "x", AT))) == "→ text 1 B  x\n"


def test_json_frame_is_pretty_printed() -> None:
    shown = plain(FrameRenderer(timestamps=False).frame(Frame("received", '{"a":[1,"\\n"]}', AT)))
    assert shown == '← json 14 B\n  {\n    "a": [\n      1,\n      "\\n"\n    ]\n  }\n'


def test_binary_frame_is_a_hex_dump() -> None:
    shown = plain(FrameRenderer(timestamps=False).frame(Frame("sent", b"\x01\x02", AT)))
    assert shown.splitlines() == ["→ binary 2 B", "  00000000  01 02" + " " * 43 + "  |..|"]


@pytest.mark.parametrize(
    ("info", "text"),
    [
        (CloseInfo(1000, "", "server"), "1000 normal closure (closed by the server)"),
        (
            CloseInfo(1011, "boom", "server"),
            "1011 internal error, reason 'boom' (closed by the server)",
        ),
        (
            CloseInfo(4000, "bye", "client"),
            "4000 application-defined, reason 'bye' (closed by this client)",
        ),
        (
            CloseInfo(1000, "", "client", answered=False),
            "1000 normal closure (closed by this client; the server never answered the close)",
        ),
        (CloseInfo(1006, "", "nobody"), "without a close frame (1006 abnormal closure)"),
        (CloseInfo(1000, "bad\x1b", "server"), "reason 'bad\\\\x1b'"),
    ],
)
def test_close_descriptions(info: CloseInfo, text: str) -> None:
    assert text in describe_close(info)


def test_dropped_connection_line_says_so() -> None:
    line = plain(FrameRenderer(timestamps=False).close(CloseInfo(1006, "", "nobody"), AT))
    assert line.startswith("■ connection dropped without a close frame (1006 abnormal closure)")


def test_jsonl_records() -> None:
    assert frame_record(Frame("sent", '{"k": true}', AT)) == {
        "event": "sent",
        "time": AT,
        "type": "text",
        "size": 11,
        "text": '{"k": true}',
        "json": {"k": True},
    }
    binary = frame_record(Frame("received", b"\xff\x00", AT))
    assert binary == {**binary, "event": "received", "type": "binary", "size": 2}
    assert base64.b64decode(binary["base64"]) == b"\xff\x00"
    assert close_record(CloseInfo(4001, "x", "server"), AT) == {
        "event": "close",
        "time": AT,
        "code": 4001,
        "name": "application-defined",
        "reason": "x",
        "initiator": "server",
    }


def test_help_and_headers_views() -> None:
    help_text = plain(help_view())
    for command in ("/json", "/bin", "/file", "/ping", "/close", "/headers", "/help", "/quit"):
        assert command in help_text
    view = plain(headers_view(101, "Switching Protocols", [("Upgrade", "websocket")], None))
    assert view.splitlines() == [
        "HTTP 101 Switching Protocols",
        "Upgrade: websocket",
        "negotiated subprotocol: (none)",
    ]
