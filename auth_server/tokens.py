"""Access tokens (RS256 JWTs) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from auth_server.amr import acr_for
from auth_server.entitlements import usable_products
from auth_server.errors import InvalidRefreshToken, InvalidToken
from auth_server.identity import MembershipFacts, UserFacts
from auth_server.keys import ALGORITHM, KeyStore

REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "exp"]


@dataclass(frozen=True)
class AccessTokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: int
    raw: dict[str, Any]


class AccessTokens:
    def __init__(
        self,
        keys: KeyStore,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        *,
        iat_skew: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.iat_skew = iat_skew
        self.clock = clock

    def issue(
        self,
        *,
        user: UserFacts,
        session_id: uuid.UUID,
        membership: MembershipFacts | None,
        now: datetime,
        amr: Sequence[str],
    ) -> str:
        """`membership` is the session's active one: `org`, `role` and `licenses` are its;
        `amr` how the session's user proved who they are (its login's methods)."""
        organization = membership.organization if membership else None
        issued_at = int(now.timestamp())
        if membership is not None and membership.token_cutoff is not None:
            # Not before the newest change these claims already show (read with them): a
            # token made in the second of a role or license change, after it, is not
            # outdated by it; at most one second ahead (revocations.py, "The same second").
            issued_at = max(issued_at, membership.token_cutoff)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user.id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": issued_at,
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "email": user.email,
            "email_verified": user.email_verified,
            # Names: verifiers that never call /me still know who the user is.
            "given_name": user.first_name,
            "family_name": user.last_name,
            "name": user.full_name,
            "org": str(organization.id) if organization else None,
            "role": membership.role if membership else None,
            # Name and slug let verifiers that never call /me still show the organization.
            "org_name": organization.name if organization else None,
            "org_slug": organization.slug if organization else None,
            # Product codes only, no per-license details: the token stays small, and a
            # change reaches verifiers as a licenses_changed event (revocations.py).
            "licenses": usable_products(organization.licenses, now) if organization else [],
            # RFC 8176 methods and the class they make: verifiers can demand a second factor.
            "amr": list(amr),
            "acr": acr_for(amr),
        }
        return jwt.encode(
            claims, self.keys.signer, algorithm=ALGORITHM, headers={"kid": self.keys.signer_kid}
        )

    def decode(self, token: str) -> AccessTokenClaims:
        """Verify signature, algorithm, issuer, audience, expiry and issue time;
        InvalidToken otherwise."""
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
                # exp and iat are checked below, against this server's clock (PyJWT would
                # read time.time() and give both the same leeway).
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
            self._check_times(claims)
            return AccessTokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                issued_at=int(claims["iat"]),
                raw=claims,
            )
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
            raise InvalidToken() from exc

    def _check_times(self, claims: dict[str, Any]) -> None:
        exp, iat = claims["exp"], claims["iat"]
        # Numbers only: a string or a boolean is a malformed token, never coerced.
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
            raise InvalidToken()
        now = self.clock().timestamp()
        if exp <= now:
            raise InvalidToken()
        # A few seconds of skew only: the issuing replica's clock (or the database's) may be
        # a little ahead of ours; a token from further in the future is not ours to trust.
        if iat > now + self.iat_skew:
            raise InvalidToken()


@dataclass(frozen=True)
class RefreshTokenParts:
    """`<session id>.<family secret>.<secret>`: the session is found by its primary key;
    the family secret (the same for every token of the session) proves the token was
    issued for it, the secret tells which token of the family it is."""

    session_id: uuid.UUID
    family: str
    secret: str

    @classmethod
    def new(cls, session_id: uuid.UUID, family: str | None = None) -> RefreshTokenParts:
        return cls(session_id, family or new_opaque_token(16), new_opaque_token())

    @classmethod
    def parse(cls, token: str) -> RefreshTokenParts:
        """InvalidRefreshToken unless the token has the shape `new` gives."""
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise InvalidRefreshToken()
        try:
            session_id = uuid.UUID(hex=parts[0])
        except ValueError as exc:
            raise InvalidRefreshToken() from exc
        return cls(session_id, parts[1], parts[2])

    def __str__(self) -> str:
        return f"{self.session_id.hex}.{self.family}.{self.secret}"

    @property
    def family_hash(self) -> str:
        return hash_opaque_token(self.family)

    @property
    def secret_hash(self) -> str:
        return hash_opaque_token(self.secret)


def is_legacy_refresh_token(token: str) -> bool:
    """Tokens issued before the session-row scheme: one url-safe secret, no dots."""
    return "." not in token


def new_opaque_token(nbytes: int = 32) -> str:
    """`nbytes` (256 bits by default) from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(nbytes)


def hash_opaque_token(token: str) -> str:
    """SHA-256 is enough here: the token has 256 bits of entropy, nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
