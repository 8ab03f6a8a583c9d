"""Input lines for the session, read in a daemon thread so the event loop never blocks on stdin.

The thread hands each line to the loop with ``call_soon_threadsafe``; ``None`` marks the end
of input. It is a daemon so that a session ending on the server's side does not wait for the
person to press Enter.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterable


class LineFeed:
    """A queue of input lines filled from a thread (or up front) and read by the sender task."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        # Interactive mode: the next prompt appears only once the previous line was handled,
        # so a sent frame is printed before the prompt and not through it.
        self._handled = threading.Event()
        self._handled.set()

    async def get(self) -> str | None:
        return await self._queue.get()

    def line_handled(self) -> None:
        """Let the prompt thread ask for the next line."""
        self._handled.set()

    def put_all(self, lines: Iterable[str]) -> None:
        """Queue fixed lines (``--send`` values) followed by the end of input."""
        for line in lines:
            self._queue.put_nowait(line)
        self._queue.put_nowait(None)

    def start_thread(self, read_line: Callable[[], str | None], *, wait_for_handling: bool) -> None:
        """Call ``read_line`` in a daemon thread until it returns None (end of input)."""

        def pump() -> None:
            while True:
                if wait_for_handling:
                    self._handled.wait()
                    self._handled.clear()
                line = read_line()
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
                if line is None:
                    return

        threading.Thread(target=pump, name="ws-probe-input", daemon=True).start()


def read_stdin_line() -> str | None:
    """One line of piped stdin without its line ending; None at end of input.

    Bytes that are not UTF-8 become U+FFFD, which then shows in the sent frame.
    """
    raw = sys.stdin.buffer.readline()
    if not raw:
        return None
    return raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
