"""Credentials: providers that read them from a request and describe themselves to OpenAPI.

Each helper is a dependency (``Annotated[HTTPBasicCredentials, Depends(basic)]``). When the
credentials are missing or unreadable it answers ``401`` with the ``WWW-Authenticate`` header
its scheme calls for; with ``auto_error=False`` it returns ``None`` instead, so a route can be
open to anonymous users too. Checking the credentials is the application's job: answer ``403``
(:func:`forbidden`) when they are readable but not good enough.

Every helper appears in the OpenAPI document under ``components/securitySchemes`` and in the
``security`` of each operation that depends on it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from velocipy.exceptions import HTTPException
from velocipy.requests import Connection

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "SecurityScheme",
    "forbidden",
]


@dataclass(frozen=True)
class HTTPAuthorizationCredentials:
    """The two parts of ``Authorization: <scheme> <credentials>``."""

    scheme: str
    credentials: str


@dataclass(frozen=True)
class HTTPBasicCredentials:
    username: str
    password: str


def forbidden(detail: str = "Not allowed") -> HTTPException:
    """The ``403`` for credentials that were read but do not grant access (raise it)."""
    return HTTPException(403, detail)


class SecurityScheme:
    """Base of the helpers: a name in ``securitySchemes`` and the OpenAPI object for it."""

    scheme_name: str
    auto_error: bool

    def __init__(self, scheme_name: str | None, description: str | None, auto_error: bool) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error

    def scheme_object(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def openapi_scheme(self) -> tuple[str, dict[str, Any], bool]:
        """``(name, Security Scheme Object, required)`` as the OpenAPI generator reads it."""
        scheme = self.scheme_object()
        if self.description:
            scheme["description"] = self.description
        return self.scheme_name, scheme, self.auto_error

    def _refuse(self, detail: str, challenge: str) -> None:
        if self.auto_error:
            raise HTTPException(401, detail, headers={"www-authenticate": challenge})

    def _bearer_token(self, connection: Connection) -> tuple[str, str] | None:
        """``(scheme as sent, token)`` of ``Authorization: Bearer``; else a ``401`` (or None)."""
        value = connection.headers.get("authorization")
        if not value:
            self._refuse("Not authenticated: send Authorization: Bearer <token>", "Bearer")
            return None
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            # RFC 6750 section 3.1: a request that used another scheme gets no error code.
            self._refuse("Invalid authentication: expected Authorization: Bearer <token>", "Bearer")
            return None
        if not token:
            self._refuse(
                "Invalid authentication: expected Authorization: Bearer <token>",
                'Bearer error="invalid_request"',
            )
            return None
        return scheme, token

    def __repr__(self) -> str:  # never the credentials: a scheme holds none
        return f"{type(self).__name__}(scheme_name={self.scheme_name!r})"


class HTTPBearer(SecurityScheme):
    """``Authorization: Bearer <token>``; returns :class:`HTTPAuthorizationCredentials`."""

    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error)
        self.bearer_format = bearer_format

    def scheme_object(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if self.bearer_format:
            scheme["bearerFormat"] = self.bearer_format
        return scheme

    async def __call__(self, connection: Connection) -> HTTPAuthorizationCredentials | None:
        token = self._bearer_token(connection)
        return None if token is None else HTTPAuthorizationCredentials(*token)


class HTTPBasic(SecurityScheme):
    """``Authorization: Basic <base64 user:password>``; returns :class:`HTTPBasicCredentials`."""

    def __init__(
        self,
        *,
        realm: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error)
        self.realm = realm
        self.challenge = f'Basic realm="{realm}"' if realm else "Basic"

    def scheme_object(self) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic"}

    async def __call__(self, connection: Connection) -> HTTPBasicCredentials | None:
        value = connection.headers.get("authorization")
        if not value:
            self._refuse("Not authenticated: send a user name and password", self.challenge)
            return None
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            self._refuse("Invalid authentication: expected Basic credentials", self.challenge)
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (non-ASCII text included) or not UTF-8 inside
            decoded = ""
        username, colon, password = decoded.partition(":")
        if not colon:
            self._refuse(
                "Invalid Basic credentials: expected base64 of user:password", self.challenge
            )
            return None
        return HTTPBasicCredentials(username, password)


class _APIKey(SecurityScheme):
    location: str

    def __init__(
        self,
        *,
        name: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error)
        self.name = name

    def scheme_object(self) -> dict[str, Any]:
        return {"type": "apiKey", "name": self.name, "in": self.location}

    def _read(self, connection: Connection) -> str | None:
        raise NotImplementedError

    async def __call__(self, connection: Connection) -> str | None:
        key = self._read(connection)
        if not key:
            self._refuse(f"Not authenticated: send the API key in {self.where}", "APIKey")
            return None
        return key

    @property
    def where(self) -> str:
        return f"the {self.location} {self.name!r}"


class APIKeyHeader(_APIKey):
    """An API key in a request header (``APIKeyHeader(name="X-API-Key")``); returns ``str``."""

    location = "header"

    def _read(self, connection: Connection) -> str | None:
        return connection.headers.get(self.name)


class APIKeyQuery(_APIKey):
    """An API key in the query string (``APIKeyQuery(name="api_key")``); returns ``str``."""

    location = "query"

    def _read(self, connection: Connection) -> str | None:
        return connection.query_params.get(self.name)


class APIKeyCookie(_APIKey):
    """An API key in a cookie (``APIKeyCookie(name="session")``); returns ``str``."""

    location = "cookie"

    def _read(self, connection: Connection) -> str | None:
        return connection.cookies.get(self.name)
