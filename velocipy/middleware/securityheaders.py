"""SecurityHeaders: the response headers that switch on browsers' own protections."""

from __future__ import annotations

from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Request
from velocipy.responses import Response

__all__ = ["SecurityHeadersMiddleware"]


class SecurityHeadersMiddleware(Middleware):
    """Add HSTS, ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` and an
    optional ``Content-Security-Policy`` to every response.

    Pass ``None`` to leave one out. A header the handler set itself is kept. HSTS is sent only
    on ``https`` requests (browsers ignore it over plain HTTP, RFC 6797 §8.1).
    """

    def __init__(
        self,
        hsts: str | None = "max-age=63072000; includeSubDomains",
        content_type_options: str | None = "nosniff",
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        content_security_policy: str | None = None,
    ) -> None:
        candidates = {
            "x-content-type-options": content_type_options,
            "x-frame-options": frame_options,
            "referrer-policy": referrer_policy,
            "content-security-policy": content_security_policy,
        }
        self.headers = [(name, value) for name, value in candidates.items() if value is not None]
        self.hsts = hsts

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        headers = response.headers
        for name, value in self.headers:
            headers.setdefault(name, value)
        if self.hsts is not None and request.url.scheme == "https":
            headers.setdefault("strict-transport-security", self.hsts)
        return response
