"""HTTPSRedirect: send plain ``http`` requests to ``https`` (and ``ws`` handshakes to ``wss``)."""

from __future__ import annotations

from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import RedirectResponse, Response
from velocipy.websockets import WebSocket

__all__ = ["HTTPSRedirectMiddleware"]

_SECURE = {"http": "https", "ws": "wss"}


class HTTPSRedirectMiddleware(Middleware):
    """Redirect with ``status_code`` (307 keeps the method and body; 308 is the permanent one).

    Behind a TLS-terminating proxy, add :class:`ProxyHeadersMiddleware` before this one so the
    scheme the client used is known. Browsers do not follow redirects of WebSocket handshakes:
    those are refused with the redirect status (and ``Location``, on ASGI servers).
    """

    def __init__(self, status_code: int = 307) -> None:
        if status_code not in (301, 302, 303, 307, 308):
            raise ValueError(f"status_code must be a redirect (301-308), not {status_code}")
        self.status_code = status_code

    def secure_url(self, connection: Connection) -> str | None:
        url = connection.url
        scheme = _SECURE.get(url.scheme)
        if scheme is None:
            return None
        netloc = url.host if url.port in (None, 80, 443) else f"{url.host}:{url.port}"
        query = f"?{url.query}" if url.query else ""
        return f"{scheme}://{netloc}{url.path}{query}"

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        location = self.secure_url(request)
        if location is None:
            return await call_next(request)
        return RedirectResponse(location, self.status_code)

    async def handshake(self, websocket: WebSocket) -> Response | None:
        location = self.secure_url(websocket)
        return None if location is None else RedirectResponse(location, self.status_code)
