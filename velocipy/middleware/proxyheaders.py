"""ProxyHeaders: believe ``X-Forwarded-*`` / ``Forwarded`` only when a trusted proxy sent them.

Behind a reverse proxy the peer is the proxy; the proxy reports the original client, scheme
and host in headers. Anyone can send those headers, so they are read only when the connection
comes from an address in ``trusted_proxies``; from anyone else they change nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TypeAlias

from velocipy.datastructures import Address
from velocipy.hosts import parse_host, parse_port
from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import PlainTextResponse, Response
from velocipy.websockets import WebSocket

__all__ = ["ProxyHeadersMiddleware"]

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = {"http", "https", "ws", "wss"}
_WEBSOCKET_SCHEME = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


class ProxyHeadersMiddleware(Middleware):
    """Set ``request.client``, the URL scheme and the host from a trusted proxy's headers.

    ``trusted_proxies`` holds addresses and networks (``"10.0.0.0/8"``, ``"::1"``), or ``"*"``
    to trust every peer (only when nothing but the proxy can reach the app). ``Forwarded``
    (RFC 7239) is read when present, ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` otherwise. The
    client is the right-most address in the chain that is not itself a trusted proxy.

    A trusted proxy's forwarded host must be a host by RFC 3986 and a forwarded port a number
    from 0 to 65535 (:mod:`velocipy.hosts`); anything else is answered ``400`` with a line that
    names the header, since the proxy passed on what the client wrote.
    """

    def __init__(self, trusted_proxies: Sequence[str] | str = ("127.0.0.1", "::1")) -> None:
        entries = [trusted_proxies] if isinstance(trusted_proxies, str) else list(trusted_proxies)
        self.trust_all = "*" in entries
        self.networks: list[Network] = [
            ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry != "*"
        ]

    def is_trusted(self, host: str) -> bool:
        if self.trust_all:
            return True
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def apply(self, connection: Connection) -> str | None:
        """Take over what a trusted proxy reports; the reason to refuse the request, if any."""
        peer = connection.client
        if peer is None or not self.is_trusted(peer.host):
            return None
        headers = connection.headers
        forwarded = headers.get_list("forwarded")
        if forwarded:
            hops = [_parse_forwarded_element(e) for v in forwarded for e in v.split(",")]
            chosen = hops[-1] if hops else {}
            for hop in reversed(hops):
                chosen = hop
                if not self.is_trusted(_host_of(hop.get("for", ""))):
                    break
            client_text, scheme, host = chosen.get("for"), chosen.get("proto"), chosen.get("host")
            header = "Forwarded"
        else:
            chain = [a.strip() for v in headers.get_list("x-forwarded-for") for a in v.split(",")]
            client_text = None
            for address in reversed([a for a in chain if a]):
                client_text = address
                if not self.is_trusted(_host_of(address)):
                    break
            scheme = _last(headers.get_list("x-forwarded-proto"))
            host = _last(headers.get_list("x-forwarded-host"))
            header = "X-Forwarded-For"
        if host is not None and parse_host(host) is None:
            return f"Invalid forwarded host in {'Forwarded' if forwarded else 'X-Forwarded-Host'}"
        client = _address(client_text) if client_text else peer
        if client is _MALFORMED:
            return f"Invalid forwarded client address in {header}"
        scheme = (scheme or "").lower()
        current = connection.url.scheme
        if scheme not in _SCHEMES:
            scheme = current
        elif isinstance(connection, WebSocket):
            scheme = _WEBSOCKET_SCHEME[scheme]
        connection.set_forwarded(client or peer, scheme, host or None)
        return None

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        refusal = self.apply(request)
        if refusal is not None:
            return PlainTextResponse(refusal, 400)
        return await call_next(request)

    async def handshake(self, websocket: WebSocket) -> Response | None:
        refusal = self.apply(websocket)
        return None if refusal is None else PlainTextResponse(refusal, 400)


def _last(values: list[str]) -> str | None:
    """The value the nearest proxy added: the last item of the last header."""
    for value in reversed(values):
        items = [item.strip() for item in value.split(",") if item.strip()]
        if items:
            return items[-1]
    return None


def _parse_forwarded_element(element: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for pair in element.split(";"):
        key, sep, value = pair.partition("=")
        if sep:
            pairs[key.strip().lower()] = value.strip().strip('"')
    return pairs


def _host_of(node: str) -> str:
    """The address part of a ``for=`` node or X-Forwarded-For item (``[v6]:port``, ``v4:port``)."""
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


_MALFORMED = Address("", 0)  # an IP address with a port that is not one


def _address(node: str) -> Address | None:
    """An :class:`Address` for a forwarded node; ``unknown`` and obfuscated names give ``None``.

    A node whose port is not 0-65535 gives ``_MALFORMED``.
    """
    host = _host_of(node)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    has_port = (node.startswith("[") and "]:" in node) or (":" not in host and ":" in node)
    if not has_port:
        return Address(host, 0)
    port = parse_port(node.rpartition(":")[2])
    return _MALFORMED if port is None else Address(host, port)
