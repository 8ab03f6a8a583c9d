"""JSON Web Tokens: issue and verify them with pinned algorithms (the optional extra ``jwt``).

Built on PyJWT, the most used JWT library in Python: typed, maintained, with a ``decode`` that
refuses to run without an explicit list of algorithms and that checks ``exp``, ``nbf``,
``aud``, ``iss`` with a leeway. What this module adds is the policy: the algorithms are one
family chosen when the :class:`JWT` is made (``none`` is refused, and HMAC never sits beside
RSA/EC, so a public key can never be used as an HMAC secret), every token must expire, and
keys rotate by ``kid`` from a :class:`JWKS` (a file or a URL, refetched when an unknown ``kid``
appears). :class:`JWTBearer` is the dependency that turns ``Authorization: Bearer`` into
verified :class:`Claims`: ``401`` with ``Bearer error="invalid_token"`` for any token it cannot
trust, ``403 insufficient_scope`` for one that lacks a scope ``Security`` asks for.

Nothing here puts a token, a key or a secret into a message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import jwt as pyjwt
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without PyJWT
    raise ImportError(
        "velocipy.security.tokens needs PyJWT, which is not installed: "
        "pip install -e '.[jwt]' (or add 'pyjwt[crypto]' to your project's dependencies)"
    ) from exc

from velocipy.exceptions import HTTPException
from velocipy.requests import Connection
from velocipy.security.credentials import HTTPBearer, SecurityScheme
from velocipy.security.oauth2 import SecurityScopes, insufficient_scope

__all__ = ["JWKS", "JWT", "Claims", "InvalidToken", "JWTBearer"]

_HMAC = frozenset({"HS256", "HS384", "HS512"})
_RSA = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC = frozenset({"ES256", "ES384", "ES512", "ES256K"})
_OKP = frozenset({"EdDSA"})
_FAMILIES = (_HMAC, _RSA, _EC, _OKP)
_KEY_TYPES = {"oct": _HMAC, "RSA": _RSA, "EC": _EC, "OKP": _OKP}
_MIN_HMAC_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


class InvalidToken(Exception):
    """A token that cannot be trusted; the message says why without quoting the token."""


class Claims(dict[str, Any]):
    """A verified token's claims, with the ones every handler reads as attributes."""

    @property
    def subject(self) -> str | None:
        sub = self.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def scopes(self) -> list[str]:
        """The ``scope`` claim split on spaces (or a ``scp`` list, as some issuers send)."""
        scope = self.get("scope", self.get("scp", ""))
        if isinstance(scope, str):
            return [item for item in scope.split(" ") if item]
        if isinstance(scope, list):
            return [item for item in scope if isinstance(item, str)]
        return []


def _family(algorithms: Sequence[str]) -> frozenset[str]:
    if not algorithms:
        raise ValueError("JWT needs at least one algorithm, e.g. algorithms=['HS256']")
    if any(alg.lower() == "none" for alg in algorithms):
        raise ValueError(
            "the 'none' algorithm is refused: a token without a signature proves nothing"
        )
    for family in _FAMILIES:
        if all(alg in family for alg in algorithms):
            return family
    unknown = [alg for alg in algorithms if not any(alg in f for f in _FAMILIES)]
    if unknown:
        raise ValueError(f"unknown JWT algorithm(s) {unknown}")
    raise ValueError(
        f"algorithms {list(algorithms)} mix key families; pin one family (all HS*, all RS*/PS*, "
        "all ES* or EdDSA) so no key can be used with an algorithm it was not meant for"
    )


class JWKS:
    """A JSON Web Key Set from a file, a URL or a mapping; keys are found by ``kid``.

    A URL is fetched on first use and again after ``refresh_after`` seconds; a token whose
    ``kid`` is unknown triggers one early refetch (at most every ``min_refetch`` seconds), so
    keys the issuer rotates in are picked up without a restart.
    """

    def __init__(
        self,
        source: str | Path | Mapping[str, Any],
        *,
        refresh_after: float = 300.0,
        min_refetch: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self.url: str | None = None
        self.refresh_after = refresh_after
        self.min_refetch = min_refetch
        self.timeout = timeout
        self._keys: dict[str, tuple[pyjwt.PyJWK, str | None]] = {}  # kid: (key, its "alg")
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        if isinstance(source, Mapping):
            self._load(source)
        elif isinstance(source, str) and source.startswith(("https://", "http://")):
            self.url = source
        else:
            self._load(json.loads(Path(source).read_text()))

    def _load(self, document: Mapping[str, Any]) -> None:
        keys: dict[str, tuple[pyjwt.PyJWK, str | None]] = {}
        for entry in document.get("keys", ()):
            kid = entry.get("kid")
            if not isinstance(kid, str):
                raise ValueError("every key of the JWKS needs a 'kid' to be found by")
            if entry.get("use", "sig") != "sig":
                continue  # an encryption key never verifies a signature
            keys[kid] = (pyjwt.PyJWK(entry), entry.get("alg"))
        self._keys = keys

    def _fetch(self) -> dict[str, Any]:
        assert self.url is not None
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
            document: dict[str, Any] = json.loads(response.read())
        return document

    async def key(self, kid: str) -> tuple[pyjwt.PyJWK, str | None] | None:
        """The key called ``kid``, fetching the set again when it may have rotated."""
        if self.url is None:
            return self._keys.get(kid)
        now = time.monotonic()
        stale = now - self._fetched_at > self.refresh_after
        unknown = kid not in self._keys and now - self._fetched_at > self.min_refetch
        if stale or unknown:
            async with self._lock:
                if time.monotonic() - self._fetched_at > min(self.min_refetch, self.refresh_after):
                    try:
                        self._load(await asyncio.to_thread(self._fetch))
                    except (OSError, ValueError, pyjwt.PyJWKError) as exc:
                        raise InvalidToken(f"the key set could not be fetched ({exc})") from None
                    finally:
                        self._fetched_at = time.monotonic()
        return self._keys.get(kid)

    def __repr__(self) -> str:
        return f"JWKS({self.url or f'{len(self._keys)} keys'})"


class JWT:
    """Issues and verifies tokens with the ``algorithms`` given (one family, never ``none``).

    * HMAC: ``JWT(secret=..., algorithms=["HS256"])`` (the secret at least as long as the hash).
    * RSA/EC/EdDSA: ``private_key=`` (PEM) to issue, ``public_key=`` (PEM) or ``jwks=`` to verify;
      ``kid`` is written into issued tokens' headers.

    ``issuer`` and ``audience`` are written into issued tokens and required of verified ones;
    ``leeway`` seconds of clock skew are allowed on ``exp``/``nbf``/``iat``.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | bytes | None = None,
        private_key: str | bytes | None = None,
        public_key: str | bytes | None = None,
        jwks: JWKS | None = None,
        kid: str | None = None,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 0,
        expires_in: float = 900,
    ) -> None:
        family = _family(algorithms)
        self.algorithms = list(dict.fromkeys(algorithms))
        if family is _HMAC:
            if secret is None or private_key is not None or public_key is not None:
                raise ValueError(f"{self.algorithms} sign with a secret: give secret=, no keys")
            raw = secret.encode() if isinstance(secret, str) else secret
            needed = max(_MIN_HMAC_BYTES[alg] for alg in self.algorithms)
            if len(raw) < needed:
                raise ValueError(
                    f"the secret is {len(raw)} bytes; {'/'.join(self.algorithms)} needs at least "
                    f"{needed} (use secrets.token_urlsafe({needed}))"
                )
            self._sign_key: Any = raw
            self._verify_key: Any = raw
        else:
            if secret is not None:
                raise ValueError(f"{self.algorithms} use key pairs, not a secret")
            if public_key is None and jwks is None:
                raise ValueError(f"{self.algorithms} verify with public_key= or jwks=")
            self._sign_key = private_key
            self._verify_key = public_key
        self.family = family
        self.jwks = jwks
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.expires_in = expires_in

    def __repr__(self) -> str:  # never a key or a secret
        return f"JWT(algorithms={self.algorithms!r}, issuer={self.issuer!r})"

    # --- issuing ------------------------------------------------------------------------
    def issue(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        expires_in: float | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for ``subject`` with ``scopes``, expiring in ``expires_in`` seconds."""
        if self._sign_key is None:
            raise ValueError("this JWT only verifies: give private_key= to issue tokens")
        now = int(time.time())
        payload: dict[str, Any] = {
            **(claims or {}),
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.expires_in if expires_in is None else expires_in),
            "jti": uuid.uuid4().hex,
        }
        scope = " ".join(dict.fromkeys(scopes))
        if scope:
            payload["scope"] = scope
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        headers = {"kid": self.kid} if self.kid else None
        return pyjwt.encode(payload, self._sign_key, self.algorithms[0], headers=headers)

    # --- verifying ----------------------------------------------------------------------
    async def verify(self, token: str) -> Claims:
        """The token's claims; :class:`InvalidToken` when anything about it is wrong."""
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.PyJWTError:
            raise InvalidToken("the token is not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"the token's algorithm is not one of {', '.join(self.algorithms)}")
        key = await self._key_for(header)
        try:
            claims = pyjwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"]},
            )
        except pyjwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except pyjwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except pyjwt.InvalidAudienceError:
            raise InvalidToken("the token was not issued for this service (audience)") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim!r} claim") from None
        except pyjwt.InvalidIssuerError:
            raise InvalidToken("the token's issuer is not trusted") from None
        except pyjwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except pyjwt.PyJWTError:
            raise InvalidToken("the token cannot be verified") from None
        return Claims(claims)

    async def _key_for(self, header: Mapping[str, Any]) -> Any:
        if self.jwks is None:
            return self._verify_key
        kid = header.get("kid")
        if not isinstance(kid, str):
            if self._verify_key is not None:
                return self._verify_key
            raise InvalidToken("the token names no key ('kid')")
        found = await self.jwks.key(kid)
        if found is None:
            raise InvalidToken("the token's key ('kid') is not in the key set")
        jwk, key_alg = found
        alg = header.get("alg")
        if alg not in _KEY_TYPES.get(str(jwk.key_type), frozenset()) or key_alg not in (None, alg):
            raise InvalidToken("the token's algorithm does not match its key")
        return jwk.key


class JWTBearer(SecurityScheme):
    """A dependency: ``Authorization: Bearer <jwt>`` verified into :class:`Claims`.

    ``scheme`` is how OpenAPI describes it (``HTTPBearer(bearer_format="JWT")`` by default; an
    ``OAuth2PasswordBearer`` makes Swagger UI log in). Scopes asked with ``Security`` are
    checked against the token's ``scope`` claim. With ``auto_error=False`` a missing token
    gives ``None`` (an invalid one is still refused).
    """

    def __init__(
        self, jwt: JWT, *, scheme: SecurityScheme | None = None, auto_error: bool = True
    ) -> None:
        self.jwt = jwt
        self.scheme = scheme or HTTPBearer(bearer_format="JWT")
        super().__init__(self.scheme.scheme_name, self.scheme.description, auto_error)

    def scheme_object(self) -> dict[str, Any]:
        return self.scheme.scheme_object()

    async def __call__(
        self, connection: Connection, security_scopes: SecurityScopes
    ) -> Claims | None:
        if not connection.headers.get("authorization"):
            self._refuse("Not authenticated: send Authorization: Bearer <token>", "Bearer")
            return None
        sent = self._bearer_token(connection)  # another scheme: 401 invalid_request
        if sent is None:
            return None
        try:
            claims = await self.jwt.verify(sent[1])
        except InvalidToken as exc:
            raise _invalid(f"Invalid token: {exc}") from None
        missing = security_scopes.missing(claims.scopes)
        if missing:
            raise insufficient_scope(missing)
        connection.state.user = claims  # type: ignore[attr-defined]  # what guards read
        return claims


def _invalid(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"www-authenticate": 'Bearer error="invalid_token"'})
