"""OAuth2 in OpenAPI: the password and client-credentials flows, ``Security`` and scopes.

``OAuth2PasswordBearer(token_url="/token", scopes={...})`` reads ``Authorization: Bearer``
like :class:`~velocipy.security.HTTPBearer`, and describes an OAuth2 scheme whose flow points
at the app's own token route, so Swagger UI's *Authorize* button logs in there.
``Security(provider, scopes=[...])`` is ``Depends`` that also asks for scopes: every provider
under it receives them as :class:`SecurityScopes`, and OpenAPI lists them on the operation.
The token route reads its form with :class:`OAuth2PasswordRequestForm` or
:class:`OAuth2ClientCredentialsRequestForm`; an error the client made answers in RFC 6749's
words with :func:`oauth2_error`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from velocipy.dependencies import Depends
from velocipy.exceptions import HTTPException
from velocipy.params import Form
from velocipy.requests import Connection, Request
from velocipy.security.credentials import SecurityScheme

__all__ = [
    "OAuth2",
    "OAuth2ClientCredentials",
    "OAuth2ClientCredentialsRequestForm",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "Security",
    "SecurityScopes",
    "insufficient_scope",
    "oauth2_error",
]


class Security(Depends):
    """``Depends`` asking for OAuth2 scopes: ``Security(current_user, scopes=["items:write"])``.

    Providers below it that take a :class:`SecurityScopes` parameter receive these scopes (with
    those of every ``Security`` above them), and the route's OpenAPI security requirement lists
    them.
    """

    __slots__ = ()

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        use_cache: bool = True,
    ) -> None:
        super().__init__(dependency, use_cache=use_cache)
        if isinstance(scopes, str):
            raise TypeError(f"Security(scopes={scopes!r}): give a list of scopes, not one string")
        self.scopes = tuple(dict.fromkeys(scopes))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, scopes={list(self.scopes)!r})"


class SecurityScopes:
    """The scopes asked of a provider by the ``Security`` markers above it (fixed at startup)."""

    __slots__ = ("scopes",)

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        self.scopes = list(scopes)

    @property
    def scope_str(self) -> str:
        """The scopes space-separated, as OAuth2 and ``WWW-Authenticate`` write them."""
        return " ".join(self.scopes)

    def missing(self, granted: Iterable[str]) -> list[str]:
        """The asked scopes that ``granted`` lacks."""
        have = set(granted)
        return [scope for scope in self.scopes if scope not in have]

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"


def with_scopes(outer: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    """``outer`` then the scopes of ``more`` it lacks (order kept: it is what OpenAPI shows)."""
    if not more:
        return outer
    return (*outer, *(scope for scope in more if scope not in outer))


def scopes_extractor(scopes: tuple[str, ...]) -> Callable[[Any, Any], SecurityScopes]:
    """What the dependency plan binds a ``SecurityScopes`` parameter with (made at startup)."""
    value = SecurityScopes(scopes)

    def security_scopes(connection: Any, errors: Any) -> SecurityScopes:
        return value

    return security_scopes


def insufficient_scope(missing: Iterable[str]) -> HTTPException:
    """The ``403`` of RFC 6750 for a valid token that lacks scopes (raise it)."""
    needed = " ".join(missing)
    return HTTPException(
        403,
        f"Not allowed: the token lacks the scope(s) {needed}",
        headers={"www-authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
    )


def oauth2_error(error: str, description: str, status_code: int = 400) -> HTTPException:
    """A token endpoint's error (RFC 6749 5.2): ``invalid_grant``, ``invalid_client``...

    The body is ``{"detail": {"error": ..., "error_description": ...}}``; an ``invalid_client``
    answers ``401`` with a ``Basic`` challenge, as the RFC asks.
    """
    headers = {"www-authenticate": "Basic"} if status_code == 401 else None
    body = {"error": error, "error_description": description}
    return HTTPException(status_code, body, headers=headers)


class OAuth2(SecurityScheme):
    """An OAuth2 security scheme with the given ``flows``; reads ``Authorization: Bearer``."""

    def __init__(
        self,
        *,
        flows: Mapping[str, Any],
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name, description, auto_error)
        self.flows = dict(flows)

    def scheme_object(self) -> dict[str, Any]:
        return {"type": "oauth2", "flows": self.flows}

    async def __call__(self, connection: Connection) -> str | None:
        """The bearer token, or a ``401`` (``None`` with ``auto_error=False``)."""
        token = self._bearer_token(connection)
        return None if token is None else token[1]


class OAuth2PasswordBearer(OAuth2):
    """The password flow: users log in with a name and password at ``token_url``."""

    def __init__(
        self,
        token_url: str,
        *,
        scopes: Mapping[str, str] | None = None,
        refresh_url: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        flow: dict[str, Any] = {"tokenUrl": token_url, "scopes": dict(scopes or {})}
        if refresh_url:
            flow["refreshUrl"] = refresh_url
        super().__init__(
            flows={"password": flow},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        self.token_url = token_url


class OAuth2ClientCredentials(OAuth2):
    """The client-credentials flow: programs get a token with their id and secret."""

    def __init__(
        self,
        token_url: str,
        *,
        scopes: Mapping[str, str] | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        flow = {"tokenUrl": token_url, "scopes": dict(scopes or {})}
        super().__init__(
            flows={"clientCredentials": flow},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        self.token_url = token_url


def _scopes(scope: str) -> list[str]:
    return [item for item in scope.split(" ") if item]


class OAuth2PasswordRequestForm:
    """The token request of the password flow (RFC 6749 4.3), read from the form body.

    ``grant_type`` may be left out (Swagger UI sends it); when sent it must be ``password``.
    ``scopes`` is the ``scope`` field split on spaces. The password never appears in a repr.
    """

    def __init__(
        self,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        grant_type: Annotated[str | None, Form()] = None,
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        if grant_type is not None and grant_type != "password":
            raise oauth2_error("unsupported_grant_type", "grant_type must be 'password'")
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = _scopes(scope)
        self.client_id = client_id
        self.client_secret = client_secret

    def __repr__(self) -> str:
        return f"OAuth2PasswordRequestForm(username={self.username!r}, scopes={self.scopes!r})"


class OAuth2ClientCredentialsRequestForm:
    """The token request of the client-credentials flow (RFC 6749 4.4).

    The client authenticates with HTTP Basic (what the RFC prefers, and Swagger UI's default)
    or with ``client_id``/``client_secret`` form fields; neither: ``401 invalid_client``.
    """

    def __init__(
        self,
        request: Request,
        grant_type: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        if grant_type != "client_credentials":
            raise oauth2_error("unsupported_grant_type", "grant_type must be 'client_credentials'")
        if client_id is None or client_secret is None:
            client_id, client_secret = _basic_client(request.headers.get("authorization"))
        self.grant_type = grant_type
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = _scopes(scope)

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentialsRequestForm(client_id={self.client_id!r}, "
            f"scopes={self.scopes!r})"
        )


def _basic_client(header: str | None) -> tuple[str, str]:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, colon, secret = decoded.partition(":")
        if colon:
            return client_id, secret
    raise oauth2_error(
        "invalid_client",
        "send the client id and secret with HTTP Basic or as client_id and client_secret",
        401,
    )
