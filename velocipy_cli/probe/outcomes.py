"""How a probe session ends: exit codes, errors a person can act on, the close of a connection."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from websockets.exceptions import ConnectionClosed


class ExitCode(enum.IntEnum):
    """Exit statuses of `velocipy ws-probe` (documented in its help)."""

    OK = 0
    FAILURE = 1  # connection or protocol error
    USAGE = 2  # bad option, URL, header or input line
    EXPECTATION = 3  # --expect not met before the idle timeout or the close
    INTERRUPTED = 130  # Ctrl-C during scripted mode (in a terminal, Ctrl-C just quits)


class ProbeError(Exception):
    """An error a person can act on: one line of text and the exit code it leads to."""

    def __init__(
        self, message: str, exit_code: ExitCode = ExitCode.FAILURE, *, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.retryable = retryable  # worth another try with --reconnect (server restarting)
        self.details: str | None = None  # extra lines shown under the message (a refused body)


class UsageError(ProbeError):
    """Bad target, header, option or input line: exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


Initiator = Literal["server", "client", "nobody"]


@dataclass(frozen=True)
class CloseInfo:
    """The end of one connection, seen from this client.

    ``initiator`` is "nobody" when the TCP connection ended without any close frame (1006).
    ``answered`` is False when we sent a close frame and the server never replied to it.
    """

    code: int
    reason: str
    initiator: Initiator
    answered: bool = True

    @classmethod
    def from_exception(cls, exc: ConnectionClosed) -> CloseInfo:
        received, sent = exc.rcvd, exc.sent
        if received is None and sent is None:
            return cls(1006, "", "nobody")
        if received is not None and (sent is None or exc.rcvd_then_sent):
            return cls(received.code, received.reason, "server")
        assert sent is not None
        return cls(sent.code, sent.reason, "client", answered=received is not None)
