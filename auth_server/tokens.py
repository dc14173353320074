"""Access tokens (RS256 JWTs) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from auth_server.errors import InvalidToken
from auth_server.keys import ALGORITHM, KeyStore
from auth_server.models import Membership

REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "exp"]


@dataclass(frozen=True)
class AccessTokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: int
    raw: dict[str, Any]


class AccessTokens:
    def __init__(self, keys: KeyStore, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        email: str,
        email_verified: bool,
        membership: Membership | None,
        now: datetime,
    ) -> str:
        organization = membership.organization if membership else None
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "email": email,
            "email_verified": email_verified,
            "org": str(organization.id) if organization else None,
            "role": membership.role if membership else None,
            # Name and slug let verifiers that never call /me still show the organization.
            "org_name": organization.name if organization else None,
            "org_slug": organization.slug if organization else None,
        }
        return jwt.encode(
            claims, self.keys.signer, algorithm=ALGORITHM, headers={"kid": self.keys.signer_kid}
        )

    def decode(self, token: str) -> AccessTokenClaims:
        """Verify signature, algorithm, issuer, audience and expiry; InvalidToken otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            public = self.keys.public_key(str(header.get("kid", "")))
            if public is None:
                raise InvalidToken()
            claims = jwt.decode(
                token,
                public.key,
                # Pinned: rejects "none" and HS256 signed with the public key as secret.
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessTokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                issued_at=int(claims["iat"]),
                raw=claims,
            )
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
            raise InvalidToken() from exc


def new_opaque_token() -> str:
    """256 bits from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """SHA-256 is enough here: the token has 256 bits of entropy, nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
