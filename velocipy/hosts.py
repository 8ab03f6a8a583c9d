"""Host values parsed by the URI grammar (RFC 9110 section 7.2, RFC 3986 section 3.2.2).

A ``Host`` header, a proxy's ``X-Forwarded-Host`` or ``Forwarded: host=`` names the host the
client asked for; apps build absolute links from it. :func:`parse_host` accepts a name
(letters, digits, ``-``, ``.``, ``_``, ``~``: the part of RFC 3986's ``reg-name`` that DNS can
carry) or a bracketed IPv6 literal, then an optional ``:port`` of at most five digits up to
65535, and nothing else: userinfo (``a@b``), paths (``/``), ``?``, ``#``, ``\\``, percent
escapes and whitespace make it invalid. The trusted-host and proxy-header middleware and
``request.url`` share it, so all three agree on what a host is.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

__all__ = ["HostAndPort", "parse_host", "parse_port"]

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_DIGITS = frozenset("0123456789")
HIGHEST_PORT = 65535


class HostAndPort(NamedTuple):
    """A parsed host: ``host`` as written (IPv6 keeps its brackets), ``port`` or ``None``."""

    host: str
    port: int | None


def parse_port(text: str) -> int | None:
    """``text`` as a TCP port (one to five ASCII digits, 0-65535), or ``None`` if it is not one."""
    if not 0 < len(text) <= 5 or not _DIGITS.issuperset(text):
        return None
    port = int(text)
    return port if port <= HIGHEST_PORT else None


def parse_host(value: str) -> HostAndPort | None:
    """``value`` split into host and port, or ``None`` when it is not a valid host value.

    An empty port (``example.com:``) is allowed by RFC 3986 and means no port.
    """
    if value.startswith("["):
        literal, bracket, rest = value[1:].partition("]")
        if not bracket or not _is_ipv6(literal):
            return None
        host = value[: len(literal) + 2]
    else:
        host = value.partition(":")[0]
        if not host or not _NAME_CHARACTERS.issuperset(host):
            return None
        rest = value[len(host) :]
    if not rest or rest == ":":
        return HostAndPort(host, None)
    if not rest.startswith(":"):
        return None
    port = parse_port(rest[1:])
    return None if port is None else HostAndPort(host, port)


def _is_ipv6(literal: str) -> bool:
    # ipaddress accepts a zone (``fe80::1%eth0``); a Host may not carry one unescaped.
    if "%" in literal:
        return False
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return True
