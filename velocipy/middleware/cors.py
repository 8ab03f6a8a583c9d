"""CORS: let pages on other origins call the API, as the Fetch standard's CORS protocol says.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered here,
without reaching the route: 200 with the allow headers, or 400 naming what is not allowed. An
actual request from an allowed origin gets ``Access-Control-Allow-Origin`` (and credentials,
exposed headers); any other passes through unchanged, so the browser withholds the response.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from velocipy.datastructures import check_header
from velocipy.middleware.base import CallNext, Middleware, add_vary
from velocipy.requests import Request
from velocipy.responses import PlainTextResponse, Response

__all__ = ["CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# Request headers a browser sends without asking (CORS-safelisted); always allowed.
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})


class CORSMiddleware(Middleware):
    """Cross-origin resource sharing for the whole app.

    ``allow_origins`` is a list of exact origins (``"https://app.example.com"``) or ``"*"``;
    ``allow_origin_regex`` matches whole origins. With ``allow_credentials=True`` the answer
    names the caller's origin (and requested methods/headers) instead of a literal ``*``, which
    browsers refuse for credentialed requests.
    """

    def __init__(
        self,
        allow_origins: Sequence[str] | str = (),
        allow_methods: Sequence[str] | str = ("GET",),
        allow_headers: Sequence[str] | str = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        origins = _as_list(allow_origins)
        methods = [m.upper() for m in _as_list(allow_methods)]
        headers = [h.lower() for h in _as_list(allow_headers)]
        self.allow_all_origins = "*" in origins
        self.allow_all_methods = "*" in methods
        self.allow_all_headers = "*" in headers
        self.origins = frozenset(o for o in origins if o != "*")
        self.origin_regex = re.compile(allow_origin_regex) if allow_origin_regex else None
        self.methods = frozenset(ALL_METHODS if self.allow_all_methods else methods)
        self.headers = frozenset(h for h in headers if h != "*") | SAFELISTED_HEADERS
        self.allow_credentials = allow_credentials
        # Whether the answer names the caller's origin, so caches must keep one copy per origin.
        self.varies_by_origin = not self.allow_all_origins or allow_credentials
        self.simple_headers: list[tuple[str, str]] = []
        if self.allow_all_origins and not allow_credentials:
            self.simple_headers.append(("access-control-allow-origin", "*"))
        if allow_credentials:
            self.simple_headers.append(("access-control-allow-credentials", "true"))
        if expose_headers:
            self.simple_headers.append(("access-control-expose-headers", ", ".join(expose_headers)))
        self.preflight_headers: list[tuple[str, str]] = [("access-control-max-age", str(max_age))]
        if allow_credentials:
            self.preflight_headers.append(("access-control-allow-credentials", "true"))
        if not self.allow_all_methods:
            self.preflight_headers.append(
                ("access-control-allow-methods", ", ".join(sorted(self.methods)))
            )
        if not self.allow_all_headers:
            self.preflight_headers.append(
                ("access-control-allow-headers", ", ".join(sorted(self.headers)))
            )

        for name, value in self.simple_headers + self.preflight_headers:
            check_header(name, value)  # an exposed header's name with a space: refused now
        self.replaced_names = frozenset(
            ["access-control-allow-origin", *(name for name, _ in self.simple_headers)]
        )

    def is_allowed_origin(self, origin: str) -> bool:
        if self.allow_all_origins or origin in self.origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        origin = request.headers.get("origin")
        if origin is None:
            response = await call_next(request)
            if self.varies_by_origin:
                add_vary(response, "Origin")
            return response
        if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
            return self.preflight(request, origin)
        response = await call_next(request)
        if self.varies_by_origin:
            add_vary(response, "Origin")
        if not self.is_allowed_origin(origin):
            return response  # no CORS headers: the browser keeps the response from the page
        # PERF: one pass: the handler's own CORS headers are replaced, as headers[name] = ...
        # would, and the middleware's were checked when it was built
        replaced = self.replaced_names
        headers = [pair for pair in response.raw_headers if pair[0] not in replaced]
        headers += self.simple_headers
        if self.varies_by_origin:
            check_header("access-control-allow-origin", origin)
            headers.append(("access-control-allow-origin", origin))
        response.raw_headers = headers
        return response

    def preflight(self, request: Request, origin: str) -> Response:
        """Answer a preflight: 200 with what is allowed, or 400 saying what is not."""
        method = request.headers.get("access-control-request-method", "").strip().upper()
        requested = [
            h.strip().lower()
            for h in request.headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        refused = []
        if not self.is_allowed_origin(origin):
            refused.append(f"origin {origin}")
        if method not in self.methods:
            refused.append(f"method {method or '(none)'}")
        if not self.allow_all_headers:
            bad = [h for h in requested if h not in self.headers]
            if bad:
                refused.append("header" + ("s " if len(bad) > 1 else " ") + ", ".join(bad))
        if refused:
            response: Response = PlainTextResponse(
                f"CORS preflight refused: {'; '.join(refused)} not allowed", 400
            )
        else:
            response = PlainTextResponse("OK", 200, self.preflight_headers)
            headers = response.headers
            headers["access-control-allow-origin"] = origin if self.varies_by_origin else "*"
            if self.allow_all_methods:
                headers["access-control-allow-methods"] = method
            if self.allow_all_headers and requested:
                headers["access-control-allow-headers"] = ", ".join(requested)
        if self.varies_by_origin:
            add_vary(response, "Origin")
        return response


def _as_list(value: Sequence[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
