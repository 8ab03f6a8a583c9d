"""The "app failed to load" responder: 503 with the error, on the supervisor's own socket.

While no child serves (the app is broken), the supervisor answers every connection itself with
a small plain-text 503 instead of letting requests hang or be refused. WebSocket upgrades get the
same 503 (never a 101). Stdlib only, so the supervisor still never imports the user's app.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

from velocipy_cli.dev.reports import AppFailure

READ_TIMEOUT_SECONDS = 1.0
MAX_HEAD_BYTES = 64 * 1024


def failure_page(failure: AppFailure) -> bytes:
    """The 503 body: what broke, where, and what to do about it."""
    lines = [
        f"VelociPy dev server: {failure.title}.",
        "",
        failure.summary,
        "",
        "Fix the code and save: the server reloads by itself.",
    ]
    if failure.detail:
        lines += ["", failure.detail]
    return ("\n".join(lines) + "\n").encode()


def failure_response(failure: AppFailure, *, head_only: bool = False) -> bytes:
    body = failure_page(failure)
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode()
    return head if head_only else head + body


class FallbackResponder:
    """Accepts on ``listener`` in a thread and answers 503 until :meth:`stop`."""

    def __init__(self, listener: socket.socket, failure: AppFailure) -> None:
        self.listener = listener
        self.failure = failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="velocipy-fallback", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not selector.select(timeout=0.05):
                    continue
                try:
                    connection, _ = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue  # the shared socket is non-blocking once a server has used it
                except OSError:
                    return
                with connection:
                    self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.setblocking(True)
        connection.settimeout(READ_TIMEOUT_SECONDS)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < MAX_HEAD_BYTES:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                head += chunk
            is_head = head.startswith(b"HEAD ")
            connection.sendall(failure_response(self.failure, head_only=is_head))
            connection.shutdown(socket.SHUT_WR)
