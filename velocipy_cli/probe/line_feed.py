"""Input lines for the session, read in a daemon thread so the event loop never blocks on stdin.

The thread hands each line to the loop with ``call_soon_threadsafe``; ``None`` marks the end
of input. It is a daemon so that a session ending on the server's side does not wait for the
person to press Enter.

Piped stdin is read with ``os.read`` on the file descriptor, never through ``sys.stdin``: a
daemon thread blocked inside ``sys.stdin.buffer.readline()`` holds the BufferedReader's lock, and
when the session ends first (the server closed, a 1009) the interpreter's shutdown aborts on that
lock ("could not acquire lock for <_io.BufferedReader name='<stdin>'>", exit 134). ``os.read``
holds no Python-level lock, so the process exits normally whatever the thread is doing.
"""

from __future__ import annotations

import asyncio
import os
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


class DescriptorLines:
    """Lines from a file descriptor (pipe, file or socket) read with ``os.read``."""

    CHUNK = 65536

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._ended = False

    def read_line(self) -> str | None:
        """The next line without its line ending; None at end of input.

        Bytes that are not UTF-8 become U+FFFD, which then shows in the sent frame.
        """
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                raw = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                break
            if self._ended:
                if not self._buffer:
                    return None
                raw = bytes(self._buffer)  # a last line without a line ending
                self._buffer.clear()
                break
            try:
                chunk = os.read(self.fd, self.CHUNK)
            except OSError:  # stdin closed under us: the same as its end
                chunk = b""
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True
        return raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")


def stdin_lines() -> DescriptorLines:
    """Piped stdin, line by line, without touching ``sys.stdin``'s buffered reader."""
    return DescriptorLines(sys.stdin.fileno())
