"""Access tokens: claims, JWKS and discovery, and the attacks /me must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.auth_server.helpers import bearer, login, signing_key, unverified_claims, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


@pytest.fixture(scope="module")
def session_tokens(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> dict[str, Any]:
    with httpx.Client(base_url=auth_server.base_url) as client:
        return login(client, verified_user(client, smtp_sink))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def me(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/api/auth/me", headers=bearer(token))


def test_claims_and_header(session_tokens: dict[str, Any], auth_server: AuthServerProcess) -> None:
    token = session_tokens["accessToken"]
    header = jwt.get_unverified_header(token)
    _key, kid = signing_key(auth_server)
    assert header["alg"] == "RS256" and header["kid"] == kid
    claims = unverified_claims(token)
    assert {"iss", "aud", "sub", "sid", "jti", "iat", "exp", "email", "email_verified", "org"} <= (
        set(claims)
    )
    assert claims["iss"] == auth_server.base_url and claims["aud"] == "rozitech"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["role"] == "owner" and claims["sub"] == session_tokens["user"]["id"]


def test_jwks_verifies_issued_tokens(
    client: httpx.Client, session_tokens: dict[str, Any], auth_server: AuthServerProcess
) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    token = session_tokens["accessToken"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="rozitech", issuer=auth_server.base_url
    )
    assert claims["email"] == session_tokens["user"]["email"]
    assert all("d" not in k for k in jwks["keys"])  # never a private part


def test_discovery_document(client: httpx.Client, auth_server: AuthServerProcess) -> None:
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == auth_server.base_url
    assert doc["jwks_uri"] == f"{auth_server.base_url}/.well-known/jwks.json"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def _claims(session_tokens: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**unverified_claims(session_tokens["accessToken"]), **changes}


def _attacks(tokens: dict[str, Any], server: AuthServerProcess) -> dict[str, str]:
    key, kid = signing_key(server)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims(tokens)
    head, payload, signature = tokens["accessToken"].split(".")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())

    def signed(**changes: Any) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": kid})

    return {
        "alg none": f"{b64({'alg': 'none', 'kid': kid})}.{b64(claims)}.",
        # The classic confusion: HMAC keyed with the public key the server publishes.
        "hs256 with public key": f"{b64({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}."
        + _hmac_tail(b64(claims), public_pem, kid),
        "tampered payload": f"{head}.{b64({**claims, 'sub': claims['sub'][::-1]})}.{signature}",
        "expired": signed(iat=now - 3600, exp=now - 60),
        "wrong issuer": signed(iss="https://evil.example"),
        "wrong audience": signed(aud="another-product"),
        "unknown kid": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "nope"}),
        "foreign key with our kid": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"kid": kid}
        ),
        "missing sid": jwt.encode(
            {k: v for k, v in claims.items() if k != "sid"},
            key,
            algorithm="RS256",
            headers={"kid": kid},
        ),
        "garbage": "not.a.jwt",
        "empty signature": f"{head}.{payload}.",
    }


def _hmac_tail(encoded_claims: str, secret: bytes, kid: str) -> str:
    header = b64({"alg": "HS256", "kid": kid, "typ": "JWT"})
    digest = hmac.new(secret, f"{header}.{encoded_claims}".encode(), hashlib.sha256).digest()
    return f"{encoded_claims}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


ATTACKS = [
    "alg none",
    "hs256 with public key",
    "tampered payload",
    "expired",
    "wrong issuer",
    "wrong audience",
    "unknown kid",
    "foreign key with our kid",
    "missing sid",
    "garbage",
    "empty signature",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_me_refuses_forged_tokens(
    client: httpx.Client,
    session_tokens: dict[str, Any],
    auth_server: AuthServerProcess,
    attack: str,
) -> None:
    assert me(client, session_tokens["accessToken"]).status_code == 200  # the genuine one works
    response = me(client, _attacks(session_tokens, auth_server)[attack])
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Token abc.def.ghi"])
def test_me_without_a_bearer_token(client: httpx.Client, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
