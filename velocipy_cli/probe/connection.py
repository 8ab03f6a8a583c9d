"""Opening the WebSocket connection with the `websockets` asyncio client, and explaining failures.

Every way a connection can fail becomes a ProbeError whose one line says what happened and
what to try; nothing here lets a traceback through.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import urllib.parse
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    NegotiationError,
)
from websockets.typing import Origin, Subprotocol

from velocipy_cli.dev.tls import dev_ca_file
from velocipy_cli.probe.options import ProbeOptions
from velocipy_cli.probe.outcomes import ProbeError, UsageError

REFUSED_BODY_LIMIT = 2000  # characters of a refused handshake's body shown under the error
# Seconds to wait for the server to answer our close frame. Short, so that quitting never hangs
# on a server that does not answer; the close line then says "the server never answered".
CLOSE_TIMEOUT = 2.0

# The websockets library logs through this logger; the probe reports errors itself.
_library_logger = logging.getLogger("velocipy_cli.probe.websockets")
_library_logger.addHandler(logging.NullHandler())
_library_logger.propagate = False


def user_agent() -> str:
    try:
        return f"velocipy-ws-probe/{version('velocipy')}"
    except PackageNotFoundError:
        return "velocipy-ws-probe"


async def open_connection(options: ProbeOptions) -> ClientConnection:
    """Connect and finish the handshake, or raise ProbeError."""
    agent = user_agent()
    headers: list[tuple[str, str]] = []
    for name, value in options.headers:
        if name.lower() == "user-agent":  # websockets sends its own; replace it rather than add one
            agent = value
        else:
            headers.append((name, value))
    extra: dict[str, Any] = {}
    context = tls_context(options)
    if context is not None:
        extra["ssl"] = context
    try:
        return await connect(
            options.url,
            origin=Origin(options.origin) if options.origin else None,
            subprotocols=[Subprotocol(name) for name in options.subprotocols] or None,
            additional_headers=headers,
            user_agent_header=agent,
            open_timeout=options.connect_timeout,
            close_timeout=CLOSE_TIMEOUT,
            max_size=options.max_size,
            logger=_library_logger,
            **extra,
        )
    except Exception as exc:  # every failure is explained below
        raise explain_connect_error(exc, options.url, options.connect_timeout) from None


def tls_context(options: ProbeOptions) -> ssl.SSLContext | None:
    """For wss://: the system's trust plus `velocipy run --https`'s development CA when one
    exists on this machine; with --insecure, no certificate checks at all."""
    if not options.url.startswith("wss://"):
        return None
    context = ssl.create_default_context()
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    ca = dev_ca_file()
    if ca is not None:
        context.load_verify_locations(cafile=ca)
    return context


def _is_refused(exc: OSError) -> bool:
    if isinstance(exc, ConnectionRefusedError):
        return True
    # Python 3.11 folds one error per address (::1 and 127.0.0.1) into one OSError without errno.
    return exc.errno is None and f"[Errno {errno.ECONNREFUSED}]" in str(exc)


def explain_connect_error(exc: BaseException, url: str, timeout: float) -> ProbeError:
    """The ProbeError a person sees when connecting to ``url`` raised ``exc``."""
    if isinstance(exc, InvalidStatus):
        return _refused_handshake(exc, url)
    if isinstance(exc, InvalidURI):
        return UsageError(f"invalid WebSocket URL {url!r}: {exc}")
    if isinstance(exc, NegotiationError):
        return ProbeError(f"the server at {url} did not agree on the handshake: {exc}")
    if isinstance(exc, InvalidMessage):
        return ProbeError(
            f"{url} did not answer with a valid HTTP response: is it an HTTP server, "
            "and does the scheme (ws:// or wss://) match?",
            retryable=True,
        )
    if isinstance(exc, InvalidHandshake):
        return ProbeError(f"WebSocket handshake with {url} failed: {exc}")
    if isinstance(exc, TimeoutError):
        return ProbeError(
            f"timed out after {timeout:g} s waiting for {url} to complete the WebSocket handshake "
            "(raise --connect-timeout to wait longer)",
            retryable=True,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ProbeError(
            f"TLS certificate check failed for {url}: {exc.verify_message}; "
            "for a self-signed development certificate add --insecure"
        )
    if isinstance(exc, ssl.SSLError):
        return ProbeError(
            f"TLS handshake with {url} failed ({exc.reason}): is the server serving TLS? "
            "Use ws:// for a plain connection"
        )
    if isinstance(exc, socket.gaierror):
        host = urllib.parse.urlsplit(url).hostname
        return ProbeError(f"cannot resolve host {host!r} in {url}: {exc.strerror}")
    if isinstance(exc, OSError) and _is_refused(exc):
        return ProbeError(
            f"could not connect to {url}: connection refused. Is the server running? "
            "Start it with `velocipy run`",
            retryable=True,
        )
    if isinstance(exc, OSError):
        return ProbeError(f"could not connect to {url}: {exc.strerror or exc}", retryable=True)
    return ProbeError(f"could not connect to {url}: {type(exc).__name__}: {exc}")


def _refused_handshake(exc: InvalidStatus, url: str) -> ProbeError:
    response = exc.response
    status = response.status_code
    message = (
        f"the server refused the WebSocket handshake for {url}: "
        f"HTTP {status} {response.reason_phrase}"
    )
    path = urllib.parse.urlsplit(url).path or "/"
    hints = {
        404: f"; is there a WebSocket route at {path}? `velocipy routes` lists the routes",
        403: (
            f"; the app rejected it: is there a WebSocket route at {path} (`velocipy routes`)? "
            "Check --origin and -H credentials too"
        ),
        401: "; it wants credentials (send them with -H, e.g. -H 'Authorization: Bearer ...')",
    }
    error = ProbeError(message + hints.get(status, ""), retryable=status >= 500)
    body = bytes(response.body or b"").decode("utf-8", "replace").strip()
    if len(body) > REFUSED_BODY_LIMIT:
        body = body[:REFUSED_BODY_LIMIT] + f"… ({len(body) - REFUSED_BODY_LIMIT} more characters)"
    error.details = f"response body:\n{body}" if body else "response body: (empty)"
    return error
