"""JWTs: every token that cannot be trusted is a 401 invalid_token; keys rotate by kid."""

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.interop.apps.auth_app import SECRET
from tests.interop.apps.auth_app import app as auth_app
from velocipy import VelociPy
from velocipy.security import JWKS, JWT, Claims, InvalidToken, JWTBearer, Security

INVALID = 'Bearer error="invalid_token"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "ada",
        "iss": "auth-app",
        "aud": "auth-app",
        "iat": now,
        "exp": now + 60,
        "scope": "items:read items:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs(claims: dict[str, Any], secret: str = SECRET) -> str:
    return pyjwt.encode(claims, secret, "HS256")


def _unsigned(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _rsa_pem() -> tuple[bytes, bytes, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public, key


HOSTILE = {
    "alg none": lambda: _unsigned(_claims()),
    "another key": lambda: _hs(_claims(), "an-entirely-different-secret-of-42-bytes!!"),
    "expired": lambda: _hs(_claims(exp=int(time.time()) - 30)),
    "wrong audience": lambda: _hs(_claims(aud="another-service")),
    "wrong issuer": lambda: _hs(_claims(iss="someone-else")),
    "not yet valid": lambda: _hs(_claims(nbf=int(time.time()) + 600)),
    "no expiry": lambda: _hs(_claims(exp=None)),
    "garbage": lambda: "not-a-jwt",
    "tampered payload": lambda: (
        _hs(_claims()).split(".")[0]
        + "."
        + _b64(json.dumps(_claims(sub="mallory")).encode())
        + "."
        + _hs(_claims()).split(".")[2]
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_untrustworthy_tokens_are_401_invalid_token(
    case: str, client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(auth_app)
    token = HOSTILE[case]()
    caplog.set_level(logging.DEBUG)
    response = client.get("/me", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID
    assert response.json()["detail"].startswith("Invalid token: ")
    assert token not in response.text  # never echoed
    assert token not in caplog.text  # never logged
    assert SECRET not in response.text
    assert client.get("/public").text == "open to all"  # the server goes on


def test_a_good_token_and_the_scope_checks(client_for: Any) -> None:
    client = client_for(auth_app)
    good = _hs(_claims())
    me = client.get("/me", headers={"authorization": f"Bearer {good}"})
    assert me.json() == {"user": "ada", "scopes": ["items:read", "items:write"]}
    reader = _hs(_claims(scope="items:read"))
    refused = client.post(
        "/items", json={"name": "x"}, headers={"authorization": f"Bearer {reader}"}
    )
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="items:write"'
    )
    nothing = _hs(_claims(scope=None))
    assert client.get("/me", headers={"authorization": f"Bearer {nothing}"}).status_code == 403
    missing = client.get("/me")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")


def test_leeway_accepts_a_token_just_expired_and_no_more() -> None:
    import asyncio

    lenient = JWT(secret=SECRET, algorithms=["HS256"], leeway=30)
    expired_10s = _hs({"sub": "a", "exp": int(time.time()) - 10})
    expired_60s = _hs({"sub": "a", "exp": int(time.time()) - 60})
    assert asyncio.run(lenient.verify(expired_10s)).subject == "a"
    with pytest.raises(InvalidToken, match="expired"):
        asyncio.run(lenient.verify(expired_60s))
    strict = JWT(secret=SECRET, algorithms=["HS256"])
    with pytest.raises(InvalidToken, match="expired"):
        asyncio.run(strict.verify(expired_10s))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithms": ["none"], "secret": SECRET}, "'none' algorithm is refused"),
        ({"algorithms": ["HS256", "RS256"], "secret": SECRET}, "mix key families"),
        ({"algorithms": ["HS256"], "secret": "short"}, "needs at least 32"),
        ({"algorithms": ["HS512"], "secret": SECRET}, "needs at least 64"),
        ({"algorithms": []}, "at least one algorithm"),
        ({"algorithms": ["XS999"], "secret": SECRET}, "unknown JWT algorithm"),
        ({"algorithms": ["RS256"], "secret": SECRET}, "key pairs, not a secret"),
        ({"algorithms": ["RS256"]}, "public_key= or jwks="),
    ],
)
def test_unsafe_configurations_are_refused_at_startup(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JWT(**kwargs)


def test_the_repr_shows_no_secret() -> None:
    made = JWT(secret=SECRET, algorithms=["HS256"], issuer="me")
    assert SECRET not in repr(made)
    assert repr(made) == "JWT(algorithms=['HS256'], issuer='me')"


def _rsa_app(verifier: JWT) -> VelociPy:
    app = VelociPy()
    bearer = JWTBearer(verifier)

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(bearer)]) -> str:
        return claims.subject or ""

    return app


def test_algorithm_confusion_a_public_key_used_as_hmac_secret(client_for: Any) -> None:
    private, public, _ = _rsa_pem()
    verifier = JWT(algorithms=["RS256"], private_key=private, public_key=public)
    client = client_for(_rsa_app(verifier))
    good = verifier.issue("ada")
    assert client.get("/me", headers={"authorization": f"Bearer {good}"}).text == "ada"
    # The classic attack: sign HS256 with the (public) PEM as the HMAC secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": "mallory", "exp": int(time.time()) + 60}).encode())
    import hashlib
    import hmac

    signature = _b64(hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    forged = f"{header}.{payload}.{signature}"
    refused = client.get("/me", headers={"authorization": f"Bearer {forged}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == INVALID
    assert "algorithm is not one of RS256" in refused.json()["detail"]


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any], list[int]]]:
    """A JWKS URL on loopback whose document the test can change; counts the fetches."""
    document: dict[str, Any] = {"keys": []}
    fetches: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(1)
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", document, fetches
    finally:
        server.shutdown()
        server.server_close()


def test_kid_rotation_from_a_jwks_url(
    jwks_server: tuple[str, dict[str, Any], list[int]], client_for: Any
) -> None:
    url, document, fetches = jwks_server
    private_1, _, key_1 = _rsa_pem()
    private_2, _, key_2 = _rsa_pem()
    document["keys"] = [_jwk(key_1, "k1")]
    verifier = JWT(algorithms=["RS256"], jwks=JWKS(url, min_refetch=0), audience="api")
    client = client_for(_rsa_app(verifier))
    issuer_1 = JWT(algorithms=["RS256"], private_key=private_1, jwks=verifier.jwks, kid="k1")
    issuer_2 = JWT(algorithms=["RS256"], private_key=private_2, jwks=verifier.jwks, kid="k2")
    token_1 = issuer_1.issue("one", claims={"aud": "api"})
    token_2 = issuer_2.issue("two", claims={"aud": "api"})
    assert client.get("/me", headers={"authorization": f"Bearer {token_1}"}).text == "one"
    before = len(fetches)
    unknown = client.get("/me", headers={"authorization": f"Bearer {token_2}"})
    assert unknown.status_code == 401
    assert "not in the key set" in unknown.json()["detail"]
    assert len(fetches) == before + 1  # an unknown kid made it look again
    document["keys"] = [_jwk(key_1, "k1"), _jwk(key_2, "k2")]  # the issuer rotates k2 in
    assert client.get("/me", headers={"authorization": f"Bearer {token_2}"}).text == "two"
    document["keys"] = [_jwk(key_2, "k2")]  # k1 retired
    client.get("/me", headers={"authorization": f"Bearer {token_2}"})
    # a token whose kid the set names, signed by another key, still fails
    forged = pyjwt.encode(
        {"sub": "mallory", "aud": "api", "exp": int(time.time()) + 60},
        private_1,
        "RS256",
        headers={"kid": "k2"},
    )
    assert client.get("/me", headers={"authorization": f"Bearer {forged}"}).status_code == 401


def test_jwks_from_a_file_and_the_key_type_must_fit_the_algorithm(tmp_path: Any) -> None:
    import asyncio

    private, _, key = _rsa_pem()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [_jwk(key, "main")]}))
    verifier = JWT(algorithms=["RS256"], jwks=JWKS(path))
    token = JWT(algorithms=["RS256"], private_key=private, jwks=verifier.jwks, kid="main").issue(
        "ada"
    )
    assert asyncio.run(verifier.verify(token)).subject == "ada"
    # An ES256 verifier given the RSA key set: the key does not fit the algorithm.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_verifier = JWT(algorithms=["ES256"], jwks=JWKS(path))
    ec_token = pyjwt.encode(
        {"sub": "x", "exp": int(time.time()) + 60}, ec_private, "ES256", headers={"kid": "main"}
    )
    with pytest.raises(InvalidToken, match="does not match its key"):
        asyncio.run(ec_verifier.verify(ec_token))
