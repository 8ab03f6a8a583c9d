"""One probe from start to end: the terminal or the script feeding it, the display, the session."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from velocipy_cli.probe.display import Display
from velocipy_cli.probe.line_feed import LineFeed, stdin_lines
from velocipy_cli.probe.options import ProbeOptions
from velocipy_cli.probe.outcomes import ExitCode
from velocipy_cli.probe.rendering import FrameRenderer
from velocipy_cli.probe.terminal import Prompt, history_path, interactive_terminal

__all__ = ["ExitCode", "ProbeOptions", "run_probe"]


def run_probe(options: ProbeOptions) -> ExitCode:
    """Run one probe to the end and return its exit code; never raises for network trouble."""
    if not options.interactive:
        return _run(options, None)
    prompt = Prompt()
    with interactive_terminal(history_path()) as warnings:
        code = _run(options, prompt, warnings)
    for warning in warnings:  # saving the history happens after the session
        Display(FrameRenderer(), jsonl=False, prompt=None).warning(warning)
    return code


def _run(
    options: ProbeOptions, prompt: Prompt | None, warnings: list[str] | None = None
) -> ExitCode:
    try:
        return asyncio.run(_main(options, prompt, warnings or []))
    except KeyboardInterrupt:  # a second Ctrl-C: stop without waiting for the close handshake
        return ExitCode.OK if options.interactive else ExitCode.INTERRUPTED
    finally:
        sys.stdout.flush()


async def _main(options: ProbeOptions, prompt: Prompt | None, warnings: list[str]) -> ExitCode:
    with contextlib.ExitStack() as stack:
        recording = None
        if options.record is not None:
            recording = stack.enter_context(options.record.open("w", encoding="utf-8"))
        display = Display(
            FrameRenderer(timestamps=options.timestamps),
            jsonl=options.jsonl,
            prompt=prompt,
            recording=recording,
        )
        return await _converse(options, prompt, warnings, display)


async def _converse(
    options: ProbeOptions, prompt: Prompt | None, warnings: list[str], display: Display
) -> ExitCode:
    for warning in warnings:
        display.warning(warning)
    warnings.clear()
    feed = LineFeed()

    def start_input() -> None:
        if options.sends:
            feed.put_all(options.sends)
        elif prompt is not None:
            feed.start_thread(prompt.read, wait_for_handling=True)
        else:
            feed.start_thread(stdin_lines().read_line, wait_for_handling=False)

    # PERF: the WebSocket client (websockets) is imported only when a probe runs, so
    # `velocipy --help` does not pay for it.
    from velocipy_cli.probe.session import Session
    from velocipy_cli.probe.transcript import replay

    try:
        if options.replay is not None:
            return await replay(
                options,
                options.replay,
                display,
                ignore=options.ignore,
                reply_timeout=options.idle_timeout,
            )
        return await Session(options, display, feed, start_input).run()
    finally:
        display.finish()
