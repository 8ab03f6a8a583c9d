"""Where probe output goes: frames to stdout (human lines or ``--jsonl``), status to stderr.

In interactive mode output is drawn above the prompt: the prompt line is cleared, the
message printed, and the prompt redrawn with whatever the person had typed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any, TextIO

from rich.console import RenderableType
from rich.control import Control
from rich.segment import ControlType
from rich.text import Text

from velocipy_cli import console as output
from velocipy_cli.probe.outcomes import CloseInfo
from velocipy_cli.probe.rendering import (
    Frame,
    FrameRenderer,
    close_record,
    escape_control_characters_block,
    frame_record,
    open_record,
    pong_record,
)
from velocipy_cli.probe.terminal import Prompt, line_buffer


class Display:
    """Prints everything a session shows, in the mode chosen on the command line."""

    def __init__(
        self,
        renderer: FrameRenderer,
        *,
        jsonl: bool,
        prompt: Prompt | None,
        recording: TextIO | None = None,
    ) -> None:
        self.renderer = renderer
        self.jsonl = jsonl
        self.prompt = prompt
        self.recording = recording  # --record: the --jsonl records, kept in a file as well
        self._keeps_records = jsonl or recording is not None

    @contextlib.contextmanager
    def _above_prompt(self) -> Iterator[None]:
        prompt = self.prompt
        if prompt is None or not prompt.visible or not output.console.is_terminal:
            yield
            return
        output.console.control(Control.move_to_column(0), Control((ControlType.ERASE_IN_LINE, 2)))
        try:
            yield
        finally:
            output.console.print(Text(prompt.text + line_buffer()), end="", soft_wrap=True)

    def _record(self, record: dict[str, Any]) -> None:
        """Print ``record`` under --jsonl and keep it under --record (either or both)."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        if self.recording is not None:
            self.recording.write(line + "\n")
            self.recording.flush()  # a transcript is whole up to the last message, even on Ctrl-C
        if self.jsonl:
            with self._above_prompt():
                output.console.out(line, highlight=False)

    def _print(self, renderable: RenderableType, *, stderr: bool = False) -> None:
        target = output.err_console if stderr or self.jsonl else output.console
        with self._above_prompt():
            target.print(renderable, soft_wrap=True)

    def frame(self, frame: Frame) -> None:
        if self._keeps_records:
            self._record(frame_record(frame))
        if not self.jsonl:
            self._print(self.renderer.frame(frame))

    def close(self, info: CloseInfo) -> None:
        at = time.time()
        if self._keeps_records:
            self._record(close_record(info, at))
        if not self.jsonl:
            self._print(self.renderer.close(info, at))

    def pong(self, rtt: float) -> None:
        at = time.time()
        if self._keeps_records:
            self._record(pong_record(rtt, at))
        if not self.jsonl:
            self._print(self.renderer.pong(rtt, at))

    def opened(self, url: str, source: str, subprotocol: str | None) -> None:
        if self._keeps_records:
            self._record(open_record(url, subprotocol, time.time()))
        text = Text(f"connected to {url}", style="dim")
        if source == "project settings":
            text.append(" (address from the project settings `velocipy run` uses)", style="dim")
        if subprotocol:
            text.append(f" (subprotocol {subprotocol})", style="dim")
        if self.prompt is not None:
            text.append(" · /help lists commands, Ctrl-D quits", style="dim")
        self._print(text, stderr=True)

    def show(self, renderable: RenderableType) -> None:
        """Answers to /help and /headers (stderr under --jsonl, to keep stdout parseable)."""
        self._print(renderable)

    def status(self, message: str) -> None:
        self._print(Text(message, style="dim"), stderr=True)

    def warning(self, message: str) -> None:
        with self._above_prompt():
            output.warning(message)

    def error(self, message: str, details: str | None = None) -> None:
        with self._above_prompt():
            output.error(message)
            if details:
                output.err_console.print(
                    Text(escape_control_characters_block(details)), soft_wrap=True
                )

    def finish(self) -> None:
        """Leave the terminal on a clean line (the prompt may still be drawn)."""
        if self.prompt is not None and self.prompt.visible and output.console.is_terminal:
            output.console.control(
                Control.move_to_column(0), Control((ControlType.ERASE_IN_LINE, 2))
            )
