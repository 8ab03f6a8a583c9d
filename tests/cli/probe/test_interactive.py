"""Interactive `velocipy ws-probe` driven in a pseudo-terminal with pexpect, as a person would."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.cli.probe.helpers import PROBE_APP, VELOCIPY
from tests.support import ServerProcess, free_port, server_argv

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
UP_ARROW = "\x1b[A"


class Terminal:
    """A `velocipy ws-probe` in a pty; ``wait_for`` reads the screen text without ANSI codes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.child = pexpect.spawn(
            VELOCIPY,
            ["ws-probe", *args],
            env={**os.environ, "TERM": "xterm", **env},
            encoding="utf-8",
            dimensions=(40, 160),
            timeout=10,
        )
        self.seen = ""  # screen text read so far, without escape codes
        self._unread = ""

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Read until ``text`` appears after what earlier waits consumed; return that stretch."""
        deadline = time.monotonic() + timeout
        while text not in ANSI.sub("", self._unread):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{text!r} never appeared; screen: {self.seen + self._unread!r}"
                )
            try:
                self._unread += self.child.read_nonblocking(65536, timeout=min(remaining, 0.5))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                raise AssertionError(
                    f"{text!r} never appeared before exit: {self._unread!r}"
                ) from None
        plain = ANSI.sub("", self._unread)
        end = plain.index(text) + len(text)
        consumed, self._unread = plain[:end], plain[end:]
        self.seen += consumed
        return consumed

    def type(self, line: str) -> None:
        self.child.sendline(line)

    def exit_status(self, timeout: float = 10.0) -> int | None:
        """Wait for the process to end (collecting the rest of the screen) and return its status."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self._unread += self.child.before or ""
        self.seen += ANSI.sub("", self._unread)
        self._unread = ""
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ws-probe-history"


@pytest.fixture
def terminals(history_file: Path) -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.kill()


def open_terminal(terminals: list[Terminal], history_file: Path, *args: str) -> Terminal:
    terminal = Terminal([*args, "--no-color"], {"VELOCIPY_PROBE_HISTORY": str(history_file)})
    terminals.append(terminal)
    return terminal


def test_lines_and_slash_commands_on_screen_and_in_history(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/inspect", "-s", "chat.v2")
    term.wait_for("(subprotocol chat.v2)")
    term.wait_for('"subprotocol": "chat.v2"')  # the server's report, pretty-printed
    term.wait_for("> ")

    term.type("hello")
    assert "text 5 B  hello" in term.wait_for("←")
    term.wait_for("text 5 B  hello")
    term.type('/json {"k": [1]}')
    term.wait_for("← ")
    term.wait_for('"k": [')
    term.type("/bin 0a0b")
    term.wait_for("binary 2 B")
    term.wait_for("00000000  0a 0b")
    term.type("/ping")
    term.wait_for("pong round trip")
    term.type("/headers")
    term.wait_for("HTTP 101 Switching Protocols")
    term.wait_for("Sec-WebSocket-Accept: ")
    term.wait_for("negotiated subprotocol: chat.v2")
    term.type("/help")
    term.wait_for("/close [code] [reason]")
    term.type("/nonsense")
    term.wait_for("unknown command /nonsense")
    term.type("still here")
    term.wait_for("text 10 B  still here")
    term.type("/quit")

    assert term.exit_status() == 0
    assert "1000 normal closure (closed by this client)" in term.seen
    assert "Traceback" not in term.seen
    assert history_file.read_text().splitlines() == [
        "hello",
        '/json {"k": [1]}',
        "/bin 0a0b",
        "/ping",
        "/headers",
        "/help",
        "/nonsense",
        "still here",
        "/quit",
    ]


def test_history_from_an_earlier_session_comes_back_with_up_arrow(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    history_file.parent.mkdir(parents=True)
    history_file.write_text("from last time\n")
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/echo")
    term.wait_for("> ")
    term.child.send(UP_ARROW + "\r")
    term.wait_for("← ")
    term.wait_for("text 14 B  from last time")
    term.type("fresh")
    term.wait_for("← ")
    term.wait_for("text 5 B  fresh")
    term.wait_for("> ")
    term.child.sendeof()  # Ctrl-D quits

    assert term.exit_status() == 0
    assert "1000 normal closure (closed by this client)" in term.seen
    # readline skips a line equal to the one before it; new lines are appended to the file.
    assert history_file.read_text().splitlines() == ["from last time", "fresh"]


def test_history_defaults_to_xdg_state_home(echo_server: ServerProcess, tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path), "VELOCIPY_PROBE_HISTORY": ""}
    term = Terminal([f"{echo_server.ws_url}/echo", "--no-color"], env)
    try:
        term.wait_for("> ")
        term.type("kept")
        term.wait_for("text 4 B  kept")
        term.type("/quit")
        assert term.exit_status() == 0
    finally:
        term.kill()
    assert (tmp_path / "velocipy" / "ws-probe-history").read_text().splitlines() == [
        "kept",
        "/quit",
    ]


def test_server_close_ends_the_session_with_its_code_by_name(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/close/4003/go-away")
    term.wait_for("> ")
    term.type("knock knock")
    assert term.exit_status() == 0
    assert "4003 application-defined, reason 'go-away' (closed by the server)" in term.seen


def test_message_arriving_while_typing_keeps_the_typed_text(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/later")
    term.wait_for("> ")
    term.type("go")
    term.wait_for("text 2 B  go")
    term.wait_for("> ")
    term.child.send("abc")  # not finished: the server's late message arrives meanwhile
    term.wait_for("text 12 B  late message")
    term.wait_for("> abc")  # the prompt and the typed text are drawn again below the message
    term.child.send("\r")
    term.wait_for("← ")
    term.wait_for("text 3 B  abc")
    term.type("/quit")
    assert term.exit_status() == 0


def test_ctrl_c_closes_politely(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/echo")
    term.wait_for("> ")
    term.child.sendintr()
    assert term.exit_status() == 0
    assert "1000 normal closure (closed by this client)" in term.seen


def test_ctrl_c_interrupts_a_script_with_status_130(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    # --send makes the probe scripted even in a terminal; it would idle for 300 s.
    url = f"{echo_server.ws_url}/silent"
    term = open_terminal(terminals, history_file, url, "--send", "x", "--idle-timeout", "300")
    term.wait_for("text 1 B  x")
    term.child.sendintr()
    assert term.exit_status() == 130
    assert "1000 normal closure (closed by this client)" in term.seen


def test_scripted_options_in_a_terminal_are_a_usage_error(
    echo_server: ServerProcess, terminals: list[Terminal], history_file: Path
) -> None:
    term = open_terminal(terminals, history_file, f"{echo_server.ws_url}/echo", "--expect", "1")
    assert term.exit_status() == 2
    assert "--expect and --idle-timeout are for scripted mode" in term.seen


def test_reconnect_after_the_server_restarts(
    terminals: list[Terminal], history_file: Path, tmp_path: Path
) -> None:
    port = free_port()
    argv = server_argv("uvicorn", PROBE_APP, port)
    first = ServerProcess(argv, port, tmp_path, log_path=tmp_path / "first.log").start()
    second: ServerProcess | None = None
    try:
        first.wait_ready()
        term = open_terminal(terminals, history_file, "/ws", "--port", str(port), "--reconnect")
        term.wait_for("> ")
        term.type("one")
        term.wait_for("text 9 B  echo: one")
        first.signal(signal.SIGTERM)  # what a reload does to the old server
        term.wait_for("reconnecting")
        first.stop()
        second = ServerProcess(argv, port, tmp_path, log_path=tmp_path / "second.log").start()
        second.wait_ready()
        term.wait_for(f"connected to ws://127.0.0.1:{port}/ws", timeout=20)
        term.wait_for("> ")
        term.type("two")
        term.wait_for("text 9 B  echo: two")
        term.type("/quit")
        assert term.exit_status() == 0
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_reconnect_keeps_trying_until_the_server_is_up(
    terminals: list[Terminal], history_file: Path, tmp_path: Path
) -> None:
    port = free_port()
    term = open_terminal(
        terminals, history_file, "/ws", "--port", str(port), "--reconnect",
        "--send", "late riser", "--expect", "1",
    )  # fmt: skip
    term.wait_for("connection refused")
    term.wait_for("retrying in")
    server = ServerProcess(server_argv("uvicorn", PROBE_APP, port), port, tmp_path).start()
    try:
        server.wait_ready()
        term.wait_for(f"connected to ws://127.0.0.1:{port}/ws", timeout=20)
        term.wait_for("text 16 B  echo: late riser")
        assert term.exit_status() == 0
    finally:
        server.stop()


if sys.platform == "win32":  # pragma: no cover - pexpect's pty spawn is POSIX only
    pytestmark = pytest.mark.skip("needs a POSIX pseudo-terminal")


def test_send_puts_the_template_on_the_prompt_and_tab_completes_the_type(
    terminals: list[Terminal], history_file: Path
) -> None:
    port = free_port()
    argv = server_argv("uvicorn", "tests.interop.apps.asyncapi_game:app", port)
    server = ServerProcess(argv, port, Path.cwd()).start()
    try:
        server.wait_ready()
        term = open_terminal(terminals, history_file, f"ws://127.0.0.1:{port}/games/1?player=ada")
        term.wait_for("send Move; receive Played")
        term.wait_for("> ")
        term.child.send("/send Mo\t")  # Tab completes the type the route takes
        term.wait_for("/send Move")
        term.child.send("\r")
        term.wait_for("template on the prompt")
        term.wait_for('/send Move {"x": 0, "y": 0}')  # ready to edit
        term.child.send("\x08" * 8 + '"y": 2}\r')  # edit the y, press Enter
        term.wait_for("←")
        term.wait_for('"player": "ada"')
        term.wait_for('"y": 2')
        term.type("/quit")
        assert term.exit_status() == 0
    finally:
        server.stop()
