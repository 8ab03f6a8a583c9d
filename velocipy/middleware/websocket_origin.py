"""The WebSocket origin guard: refuse handshakes that a page on another site started.

Browsers let any page open a WebSocket to any host and send that host's cookies with it; the
Same-Origin Policy does not apply. A handler that trusts the cookie would then act for the user
on a foreign page's behalf (cross-site WebSocket hijacking). Browsers always send ``Origin``
with a WebSocket handshake, so checking it is the defence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from velocipy.middleware.base import Middleware
from velocipy.responses import PlainTextResponse, Response
from velocipy.websockets import WebSocket

__all__ = ["WebSocketOriginMiddleware"]

_HTTP_SCHEME = {"ws": "http", "wss": "https"}


class WebSocketOriginMiddleware(Middleware):
    """Refuse (403) a WebSocket handshake whose ``Origin`` is not allowed.

    Allowed: the socket's own origin (a page served by this app on the same scheme, host and
    port), every origin in ``allowed_origins`` (``"https://app.example.com"``; ``"*"`` allows
    all, ``"https://*.example.com"`` any subdomain), and clients that send no ``Origin`` at all
    (not browsers: scripts and servers, which could send any header anyway).
    ``VelociPy(websocket_origins=[...])`` adds this middleware.
    """

    def __init__(self, allowed_origins: Sequence[str] = (), allow_same_origin: bool = True) -> None:
        if isinstance(allowed_origins, str):  # one origin given bare, not a list of letters
            allowed_origins = [allowed_origins]
        origins = [o.lower().rstrip("/") for o in allowed_origins]
        self.allow_all = "*" in origins
        self.exact = frozenset(o for o in origins if "*" not in o)
        patterns = [
            re.escape(o).replace(r"\*", r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")
            for o in origins
            if "*" in o and o != "*"
        ]
        self.pattern = re.compile("|".join(patterns)) if patterns else None
        self.allow_same_origin = allow_same_origin

    def is_allowed(self, websocket: WebSocket) -> bool:
        origin = websocket.headers.get("origin")
        if origin is None or self.allow_all:
            return True
        origin = origin.lower()
        if origin in self.exact:
            return True
        if self.pattern is not None and self.pattern.fullmatch(origin):
            return True
        if self.allow_same_origin:
            url = websocket.url
            own = f"{_HTTP_SCHEME.get(url.scheme, url.scheme)}://{url.host}".lower()
            default_port = 443 if url.scheme == "wss" else 80
            if url.port is not None and url.port != default_port:
                own += f":{url.port}"
            return origin == own
        return False

    async def handshake(self, websocket: WebSocket) -> Response | None:
        if self.is_allowed(websocket):
            return None
        return PlainTextResponse("WebSocket origin not allowed", 403)
