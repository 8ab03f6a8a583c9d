"""TrustedHost: answer 400 to requests (and WebSocket handshakes) for a host the app does not serve.

Guards against Host-header attacks (poisoned password-reset links, cache poisoning) where the
app builds URLs from ``request.url``.
"""

from __future__ import annotations

from collections.abc import Sequence

from velocipy.hosts import parse_host
from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import PlainTextResponse, Response
from velocipy.websockets import WebSocket

__all__ = ["TrustedHostMiddleware"]


class TrustedHostMiddleware(Middleware):
    """Allow only ``allowed_hosts``: exact names, ``*.example.com`` for any subdomain, or ``*``.

    The port is ignored (``example.com:8000`` matches ``example.com``); names compare without
    case. A missing or other host gets ``400 Invalid host header``, and so does a ``Host`` that
    is not a host by RFC 3986 (userinfo, a path, ``?``, ``#``, ``\\``, percent escapes,
    whitespace, a port above 65535): see :mod:`velocipy.hosts`. With ``*`` any well-formed host
    passes, and so does a request without ``Host`` (HTTP/1.0).
    """

    def __init__(self, allowed_hosts: Sequence[str] = ("*",)) -> None:
        hosts = [h.lower() for h in allowed_hosts]
        for host in hosts:
            if host.startswith("*") and host != "*" and not host.startswith("*."):
                raise ValueError(f"host pattern {host!r}: a wildcard must be '*' or '*.domain'")
        self.allow_any = "*" in hosts
        self.exact = frozenset(h for h in hosts if not h.startswith("*"))
        self.suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))  # ".example.com"

    def is_allowed(self, connection: Connection) -> bool:
        value = connection.headers.get("host")
        if value is None:
            return self.allow_any
        parsed = parse_host(value)
        if parsed is None:
            return False
        if self.allow_any:
            return True
        host = parsed.host.lower()
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        if self.is_allowed(request):
            return await call_next(request)
        return PlainTextResponse("Invalid host header", 400)

    async def handshake(self, websocket: WebSocket) -> Response | None:
        return None if self.is_allowed(websocket) else PlainTextResponse("Invalid host header", 400)
