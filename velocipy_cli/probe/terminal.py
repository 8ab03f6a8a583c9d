"""The interactive terminal: readline history file, slash-command completion, and tty state.

History lives in ``$VELOCIPY_PROBE_HISTORY``, else ``$XDG_STATE_HOME/velocipy/ws-probe-history``,
else ``~/.local/state/velocipy/ws-probe-history``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from velocipy_cli.probe.actions import COMMAND_NAMES

HISTORY_ENV = "VELOCIPY_PROBE_HISTORY"
HISTORY_LENGTH = 1000


def history_path(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where the prompt's history is kept (see the module docstring for the order)."""
    environ = os.environ if environ is None else environ
    if environ.get(HISTORY_ENV):
        return Path(environ[HISTORY_ENV]).expanduser()
    state_home = environ.get("XDG_STATE_HOME")
    base = Path(state_home) if state_home else (home or Path.home()) / ".local" / "state"
    return base / "velocipy" / "ws-probe-history"


def _load_readline() -> ModuleType | None:
    try:
        import readline
    except ImportError:  # no line editing on this platform: plain input() still works
        return None
    return readline


MESSAGE_TYPES: list[str] = []  # the route's message types, once its AsyncAPI is known
_prefill: list[str] = []  # text to put on the next prompt (a /send template)


def complete_command(text: str, state: int, line: str | None = None) -> str | None:
    """readline completer: slash commands, and message types after ``/send ``."""
    line = line_buffer() if line is None else line
    if line.startswith("/send ") and " " not in line[len("/send ") :]:
        matches = [name for name in MESSAGE_TYPES if name.startswith(text)]
    elif text.startswith("/"):
        matches = [name for name in COMMAND_NAMES if name.startswith(text)]
    else:
        matches = []
    return matches[state] if state < len(matches) else None


def prefill_next_prompt(text: str) -> None:
    """Put ``text`` on the next prompt, ready to edit (a message template)."""
    _prefill[:] = [text]


def _insert_prefill() -> None:
    readline = _load_readline()
    if readline is not None and _prefill:
        readline.insert_text(_prefill.pop())
        readline.redisplay()


@contextlib.contextmanager
def interactive_terminal(path: Path) -> Iterator[list[str]]:
    """Line editing with persistent history for the session; restores the tty afterwards.

    Yields a list that collects warnings (an unreadable history file must not stop the probe).
    """
    warnings: list[str] = []
    readline = _load_readline()
    saved_tty = _save_tty()
    start_length = 0
    if readline is not None:
        readline.set_completer(complete_command)
        readline.set_pre_input_hook(_insert_prefill)
        readline.set_completer_delims(" ")
        readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            warnings.append(f"could not read history file {path}: {exc.strerror or exc}")
        start_length = readline.get_current_history_length()
    try:
        yield warnings
    finally:
        _restore_tty(saved_tty)
        if readline is not None:
            _save_history(readline, path, start_length, warnings)


def _save_history(readline: ModuleType, path: Path, start_length: int, warnings: list[str]) -> None:
    new_entries = readline.get_current_history_length() - start_length
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # append, so two sessions at once both keep their lines
            readline.append_history_file(max(new_entries, 0), path)
        else:
            readline.write_history_file(path)
    except OSError as exc:
        warnings.append(f"could not save history file {path}: {exc.strerror or exc}")


def _save_tty() -> list[Any] | None:
    try:
        import termios

        return termios.tcgetattr(sys.stdin.fileno())
    except (ImportError, OSError, ValueError):
        return None


def _restore_tty(saved: list[Any] | None) -> None:
    """Put the terminal back as we found it: the input thread may still be inside readline."""
    if saved is None:
        return
    import termios

    with contextlib.suppress(OSError, ValueError):
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def line_buffer() -> str:
    """What the person has typed at the prompt so far (to redraw it after a message)."""
    readline = _load_readline()
    return readline.get_line_buffer() if readline is not None else ""


class Prompt:
    """The input prompt; knows whether it is on screen so output can be drawn above it."""

    def __init__(self, text: str = "> ") -> None:
        self.text = text
        self.visible = False

    def read(self) -> str | None:
        """One line with line editing (readline when available); None on Ctrl-D."""
        self.visible = True
        try:
            line = input(self.text)
        except EOFError:
            return None  # the prompt stays on screen (visible) until the next output clears it
        except UnicodeDecodeError:  # bytes the terminal sent that are not UTF-8: ignore the line
            line = ""
        self.visible = False
        return line
