"""WebSocket close codes: standard names (RFC 6455 section 7.4, IANA registry), their meaning."""

from __future__ import annotations

from velocipy_cli.probe.outcomes import ExitCode

# Names from RFC 6455 section 7.4.1 and the IANA "WebSocket Close Code Number Registry".
CLOSE_CODE_NAMES: dict[int, str] = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1004: "reserved",
    1005: "no status received",
    1006: "abnormal closure",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure",
}

# Codes an endpoint must never put in a close frame (RFC 6455 section 7.4.1).
_NEVER_SENT = frozenset({1004, 1005, 1006, 1015})

# Closes that a dev-server reload or restart produces; `--reconnect` retries after them.
RESTART_CODES = frozenset({1001, 1005, 1006, 1012, 1013, 1014})

# Closes that end a session successfully: normal, going away, and a close frame without a code.
_SUCCESSFUL = frozenset({1000, 1001, 1005})


def close_code_name(code: int) -> str:
    """The standard name of ``code``, or the range it belongs to when it has none."""
    if code in CLOSE_CODE_NAMES:
        return CLOSE_CODE_NAMES[code]
    if 3000 <= code <= 3999:
        return "registered for libraries and frameworks"
    if 4000 <= code <= 4999:
        return "application-defined"
    return "unknown code"


def sendable_close_code_error(code: int) -> str | None:
    """Why ``code`` cannot go in a close frame we send, or None when it can."""
    if code in _NEVER_SENT:
        return f"close code {code} ({close_code_name(code)}) is reserved and never sent on the wire"
    if code in CLOSE_CODE_NAMES or 3000 <= code <= 4999:
        return None
    return f"close code {code} is not allowed: use 1000-1003, 1007-1014 or 3000-4999"


def exit_code_for_close(code: int) -> ExitCode:
    """The exit status when the server ends the session with ``code``.

    Normal closes and application-defined codes (3000-4999, the app chose them) end well;
    protocol and server errors, and a dropped connection (1006), are failures.
    """
    if code in _SUCCESSFUL or 3000 <= code <= 4999:
        return ExitCode.OK
    return ExitCode.FAILURE
