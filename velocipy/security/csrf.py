"""CSRF protection: a synchronizer token in the session, and an Origin/Referer check.

``app.add_middleware(CSRFMiddleware)`` after a session middleware (signed-cookie or server-side)
protects every unsafe request (POST, PUT, PATCH, DELETE):

* its ``Origin`` (or, without one, its ``Referer``) must be the app's own origin or one of
  ``trusted_origins``: a form posted from another site is refused even before its token is read;
* a request that carries cookies must present the session's token, in the ``X-CSRF-Token``
  header (fetch) or the ``csrf_token`` form field (``{{ csrf_input() }}`` in a template).
  A request without any cookie, or one sending ``Authorization`` (a bearer token or Basic
  credentials, which no cross-site form can set), is not cookie-authenticated and needs none.

Refusals are ``403`` with one line saying what was missing; the token itself is never echoed.
Tokens are masked afresh each time a page asks for one (``csrf_token(request)``), so a
compressed page never shows the same bytes twice (BREACH). Exempt a route with
``@csrf_exempt`` under its route decorator, or whole prefixes with ``exempt_paths=``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import JSONResponse, Response

__all__ = ["CSRFMiddleware", "csrf_exempt", "csrf_token"]

SESSION_KEY = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SIZE = 32
F = TypeVar("F", bound=Callable[..., Any])


def csrf_exempt(handler: F) -> F:
    """Mark a handler as not needing a CSRF token (put it under the route decorator)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


def _secret(connection: Connection) -> bytes:
    """The session's CSRF secret, made on first use."""
    session = connection.session
    stored = session.get(SESSION_KEY)
    if isinstance(stored, str):
        try:
            raw = bytes.fromhex(stored)
        except ValueError:
            raw = b""
        if len(raw) == _SIZE:
            return raw
    raw = secrets.token_bytes(_SIZE)
    session[SESSION_KEY] = raw.hex()
    return raw


def csrf_token(connection: Connection) -> str:
    """A masked token for this session, for a form field or a ``X-CSRF-Token`` header."""
    secret = _secret(connection)
    mask = secrets.token_bytes(_SIZE)
    return (mask + bytes(a ^ b for a, b in zip(mask, secret, strict=True))).hex()


def _unmask(token: str) -> bytes | None:
    try:
        raw = bytes.fromhex(token)
    except ValueError:
        return None
    if len(raw) != 2 * _SIZE:
        return None
    mask, masked = raw[:_SIZE], raw[_SIZE:]
    return bytes(a ^ b for a, b in zip(mask, masked, strict=True))


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class CSRFMiddleware(Middleware):
    """Refuse cross-site and tokenless unsafe requests (see the module's description)."""

    def __init__(
        self,
        *,
        trusted_origins: Iterable[str] = (),
        exempt_paths: Iterable[str] = (),
        header_name: str = "x-csrf-token",
        field_name: str = "csrf_token",
    ) -> None:
        self.trusted_origins = frozenset(origin.rstrip("/").lower() for origin in trusted_origins)
        self.exempt_paths = tuple(exempt_paths)
        self.header_name = header_name.lower()
        self.field_name = field_name

    def __repr__(self) -> str:
        return f"CSRFMiddleware(trusted_origins={sorted(self.trusted_origins)!r})"

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        if request.method in _SAFE_METHODS or self._exempt(request):
            return await call_next(request)
        refusal = self._cross_site(request) or await self._token_problem(request)
        if refusal is not None:
            return JSONResponse({"detail": refusal}, 403)
        return await call_next(request)

    def _exempt(self, request: Request) -> bool:
        if self.exempt_paths and request.path.startswith(self.exempt_paths):
            return True
        # the route table the dispatcher uses (unsafe methods only; exempt handlers are marked)
        found = request.app._http.match(request.path)
        if found is None:
            return False
        handler = found[0].handlers.get(request.method)
        return bool(getattr(handler, "csrf_exempt", False))

    def _cross_site(self, request: Request) -> str | None:
        origin = request.headers.get("origin")
        where = "Origin"
        if origin is None or origin == "null":
            referer = request.headers.get("referer")
            if referer is None:
                return "Cross-site request refused: Origin is null" if origin else None
            origin, where = _origin_of(referer), "Referer"
            if origin is None:
                return "Cross-site request refused: the Referer is not a URL"
        url = request.url
        own = f"{url.scheme}://{url.netloc}".lower()
        if origin.rstrip("/").lower() == own or origin.rstrip("/").lower() in self.trusted_origins:
            return None
        return f"Cross-site request refused: the {where} is not this site or a trusted origin"

    async def _token_problem(self, request: Request) -> str | None:
        headers = request.headers
        if "cookie" not in headers or "authorization" in headers:
            return None  # not cookie-authenticated: a forged form cannot set Authorization
        sent = request.headers.get(self.header_name)
        if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
            value = (await request.form()).get(self.field_name)
            sent = value if isinstance(value, str) else None
        if not sent:
            return (
                f"CSRF token missing: send it in the {self.field_name} form field "
                f"or the {self.header_name} header"
            )
        expected = request.session.get(SESSION_KEY)
        unmasked = _unmask(sent)
        if (
            not isinstance(expected, str)
            or unmasked is None
            or not hmac.compare_digest(unmasked.hex(), expected)
        ):
            return "CSRF token does not match this session: reload the form and try again"
        return None
