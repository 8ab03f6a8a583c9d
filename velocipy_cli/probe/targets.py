"""Turn the TARGET argument and header options into a WebSocket URL and a header list.

A target is a path (``/ws``, ``/rooms/42?x=1``) joined to a host and port, or a full
``ws://`` / ``wss://`` URL; ``http://`` and ``https://`` URLs are mapped to ``ws``/``wss``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from velocipy_cli.probe.outcomes import UsageError
from velocipy_cli.settings import SettingsError, environment_settings, pyproject_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

_SCHEME_MAP = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
# RFC 9110 token characters: header names and subprotocol names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Characters kept as they are when a path or query is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# Headers the WebSocket handshake sets itself; a second copy would break it.
_HANDSHAKE_HEADERS = {
    "host": "it comes from the URL",
    "upgrade": "the handshake sets it",
    "connection": "the handshake sets it",
    "sec-websocket-key": "the handshake sets it",
    "sec-websocket-version": "the handshake sets it",
    "sec-websocket-extensions": "the handshake sets it",
    "sec-websocket-protocol": "use -s/--subprotocol",
    "origin": "use --origin",
}


@dataclass(frozen=True)
class ResolvedTarget:
    """The URL to connect to and where its host and port came from (for the banner)."""

    url: str
    source: str  # "URL", "options", "project settings" (as `velocipy run` reads them) or "defaults"


def resolve_target(
    target: str,
    *,
    host: str | None = None,
    port: int | None = None,
    project_dir: Path | None = None,
) -> ResolvedTarget:
    """Resolve TARGET to a ws/wss URL; raise UsageError with one clear line when it is not one."""
    target = target.strip()
    if "#" in target:
        raise UsageError(
            f"TARGET {target!r} has a #fragment, which is never sent to a server: remove it"
        )
    if target.startswith("/"):
        return _resolve_path(target, host, port, project_dir or Path.cwd())
    scheme, separator, _ = target.partition("://")
    if not separator:
        hint = (
            f"; did you mean ws://{target}?" if re.match(r"^[\w.\-\[\]:]+(:\d+)?/", target) else ""
        )
        raise UsageError(
            f"TARGET {target!r} is neither a path starting with / nor a ws:// or wss:// URL{hint}"
        )
    if scheme.lower() not in _SCHEME_MAP:
        raise UsageError(f"unsupported URL scheme {scheme!r} in {target!r}: use ws:// or wss://")
    if host is not None or port is not None:
        raise UsageError("--host and --port only apply when TARGET is a path, not a full URL")
    try:
        parts = urllib.parse.urlsplit(target)
    except ValueError as exc:  # an unbalanced IPv6 bracket
        raise UsageError(f"invalid WebSocket URL {target!r}: {exc}") from None
    url = _rebuild(_SCHEME_MAP[scheme.lower()], parts.netloc, parts.path or "/", parts.query)
    return ResolvedTarget(_validated(url, target), "URL")


def _resolve_path(
    target: str, host: str | None, port: int | None, project_dir: Path
) -> ResolvedTarget:
    settings_host: str | None = None
    settings_port: int | None = None
    if host is None or port is None:  # a broken pyproject.toml does not matter when both are given
        settings_host, settings_port = read_project_address(project_dir)
    chosen_host = host or settings_host or DEFAULT_HOST
    chosen_port = port if port is not None else settings_port or DEFAULT_PORT
    if host is not None or port is not None:
        source = "options"
    elif settings_host or settings_port:
        source = "project settings"
    else:
        source = "defaults"
    if not 0 < chosen_port < 65536:
        raise UsageError(f"port {chosen_port} is out of range 1-65535")
    path, _, query = target.partition("?")
    netloc = f"{_connectable_host(chosen_host)}:{chosen_port}"
    url = _rebuild("ws", netloc, path, query)
    return ResolvedTarget(_validated(url, target), source)


def _connectable_host(host: str) -> str:
    """Map bind-all addresses (what `velocipy run` may listen on) to loopback; bracket IPv6."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        return DEFAULT_HOST
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _rebuild(scheme: str, netloc: str, path: str, query: str) -> str:
    path = urllib.parse.quote(path, safe=_PATH_SAFE)
    query = urllib.parse.quote(query, safe=_QUERY_SAFE)
    return urllib.parse.urlunsplit((scheme, netloc, path, query, ""))


def _validated(url: str, target: str) -> str:
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise UsageError(f"invalid WebSocket URL {target!r}: {exc}") from None
    except ValueError as exc:  # a port out of range, an unbalanced IPv6 bracket
        raise UsageError(f"invalid WebSocket URL {target!r}: {exc}") from None
    return url


def read_project_address(project_dir: Path) -> tuple[str | None, int | None]:
    """host/port `velocipy run` would use: ``VELOCIPY_HOST``/``_PORT``, else ``[tool.velocipy]``.

    Reads the shared settings loader of `velocipy run`, so both commands agree on the address.
    """
    try:
        settings = {**pyproject_settings(project_dir), **environment_settings()}
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    host, port = settings.get("host"), settings.get("port")
    return (host if isinstance(host, str) else None), (port if isinstance(port, int) else None)


def parse_header(raw: str) -> tuple[str, str]:
    """Split ``"Name: value"`` into a checked (name, value) pair for the handshake request."""
    name, separator, value = raw.partition(":")
    name, value = name.strip(), value.strip()
    if not separator or not name:
        raise UsageError(f'invalid header {raw!r}: expected "Name: value"')
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"invalid header name {name!r}: use letters, digits and - only")
    if any(char in value for char in "\r\n\0"):
        raise UsageError(f"invalid value for header {name!r}: it contains a line break or NUL")
    reason = _HANDSHAKE_HEADERS.get(name.lower())
    if reason is not None:
        raise UsageError(f"header {name!r} cannot be set with -H: {reason}")
    return name, value


def check_subprotocol(name: str) -> str:
    """A subprotocol must be an HTTP token (RFC 6455 section 4.1)."""
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"invalid subprotocol {name!r}: use letters, digits and .-_ only")
    return name


def check_origin(origin: str) -> str:
    """An Origin is ``scheme://host[:port]`` without a path (RFC 6454)."""
    parts = urllib.parse.urlsplit(origin)
    if not parts.scheme or not parts.netloc or parts.path not in ("", "/") or " " in origin:
        raise UsageError(f"invalid origin {origin!r}: expected scheme://host[:port]")
    return origin.rstrip("/")
