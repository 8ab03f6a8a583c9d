"""Authentication and authorization: credentials, tokens, OAuth2, guards, CSRF, sessions.

Each concept has its module (``credentials``, ``tokens``, ``oauth2``, ``guards``, ``csrf``,
``sessions``, ``websocket_auth``); the names users need are importable from here. The JWT names
(``JWT``, ``JWKS``, ``JWTBearer``, ``Claims``, ``InvalidToken``) need the optional PyJWT and are
imported on first use, so ``import velocipy.security`` works without it.
"""

from typing import TYPE_CHECKING, Any

from velocipy.security.credentials import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    SecurityScheme,
    forbidden,
)
from velocipy.security.csrf import CSRFMiddleware, csrf_exempt, csrf_token
from velocipy.security.guards import Guard, requires_roles, requires_scopes
from velocipy.security.oauth2 import (
    OAuth2,
    OAuth2ClientCredentials,
    OAuth2ClientCredentialsRequestForm,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    Security,
    SecurityScopes,
    insufficient_scope,
    oauth2_error,
)
from velocipy.security.sessions import ServerSession, ServerSessionMiddleware
from velocipy.security.websocket_auth import WebSocketTickets, authenticate_first_message

if TYPE_CHECKING:
    from velocipy.security.tokens import JWKS, JWT, Claims, InvalidToken, JWTBearer

__all__ = [
    "JWKS",
    "JWT",
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "CSRFMiddleware",
    "Claims",
    "Guard",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "InvalidToken",
    "JWTBearer",
    "OAuth2",
    "OAuth2ClientCredentials",
    "OAuth2ClientCredentialsRequestForm",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "Security",
    "SecurityScheme",
    "SecurityScopes",
    "ServerSession",
    "ServerSessionMiddleware",
    "WebSocketTickets",
    "authenticate_first_message",
    "csrf_exempt",
    "csrf_token",
    "forbidden",
    "insufficient_scope",
    "oauth2_error",
    "requires_roles",
    "requires_scopes",
]

_LAZY = {
    "JWT": "velocipy.security.tokens",
    "JWKS": "velocipy.security.tokens",
    "JWTBearer": "velocipy.security.tokens",
    "Claims": "velocipy.security.tokens",
    "InvalidToken": "velocipy.security.tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'velocipy.security' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
