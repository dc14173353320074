"""simplejwt's JWTAuthentication set up for the auth server's tokens: the comparison case of
the client benchmarks (the `bench` extra installs it). Same tokens, same public key, same
user table (found by `auth_user_id`, the `sub` claim), no cache, no revocation check."""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from jwt import PyJWKSet


def public_key_pem(auth_url: str) -> str:
    """The auth server's (first) signing key, as the PEM simplejwt's VERIFYING_KEY takes."""
    document = httpx.get(f"{auth_url}/.well-known/jwks.json", timeout=10).json()
    key = PyJWKSet.from_dict(document).keys[0].key
    pem: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def simplejwt_settings(auth_url: str, audience: str) -> dict[str, Any]:
    """SIMPLE_JWT for verifying (never issuing) the auth server's access tokens."""
    return {
        "ALGORITHM": "RS256",
        "VERIFYING_KEY": public_key_pem(auth_url),
        "AUDIENCE": audience,
        "ISSUER": auth_url,
        "USER_ID_CLAIM": "sub",
        "USER_ID_FIELD": "auth_user_id",
        # Our access tokens carry no simplejwt `token_type` claim.
        "TOKEN_TYPE_CLAIM": None,
        "JTI_CLAIM": "jti",
        "UPDATE_LAST_LOGIN": False,
    }
