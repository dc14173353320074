"""Verifying access tokens: locally against the JWKS, or remotely with GET /api/auth/me.

Both verifiers turn a token into a `VerifiedToken`. The authentication classes add caching,
single-flight and the local user on top (rozitech_auth.django.authentication).

Designed for `hybrid` (a later issue): hybrid = `LocalVerifier` + a `RevocationCheck` fed by
the auth server's revocation feed (session, user or "tokens issued before T" revoked).
The hook is `LocalVerifier(revocations=...)`; only the feed is missing.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from jwt import PyJWK, PyJWKSet

from rozitech_auth import metrics
from rozitech_auth.client import AuthServerClient
from rozitech_auth.conf import ClientSettings
from rozitech_auth.discovery import Issuer
from rozitech_auth.errors import (
    AuthServerRejected,
    AuthServerUnavailable,
    SigningKeyNotYetKnown,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)

# Pinned: the auth server signs RS256 only. Pinning rejects "none" and the HMAC confusion
# (HS256 "signed" with the public key as the secret).
ALGORITHMS = ["RS256"]
# Every claim a token must carry, the auth server's own list (auth_server.tokens; a contract
# test keeps the two equal): hybrid revocation keys on `sid` (session) and `iat` (user).
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "exp"]
# Their types: a claim of another type (e.g. `exp` as a string, which PyJWT's int() accepts)
# is a malformed token, refused with 401 before any arithmetic could turn it into a 500.
_INTEGER_CLAIMS = ("iat", "exp")
_STRING_CLAIMS = ("iss", "sub", "sid", "jti")


def now() -> float:
    """Wall-clock seconds (token `exp` is wall-clock); tests replace it to travel in time."""
    return time.time()


def token_digest(token: str) -> str:
    """SHA-256 of the WHOLE token: JWTs of one issuer share their first ~40 characters
    (the header), so any prefix would map different users to one cache entry."""
    return hashlib.sha256(token.encode()).hexdigest()


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload WITHOUT checking the signature: used only to bound cache lifetimes and to
    reject expired or malformed tokens early, never to trust anything."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenInvalid() from exc
    check_claim_types(claims)
    return claims


def check_claim_types(claims: Mapping[str, Any]) -> None:
    """401 `invalid_token` unless every required claim is present with its type (as the auth
    server refuses them): never a 500 from a string `exp` or a missing `sid`."""
    for name in REQUIRED_CLAIMS:
        value = claims.get(name)
        if name in _INTEGER_CLAIMS:
            # bool is an int subclass; `true` is no timestamp.
            valid = isinstance(value, int) and not isinstance(value, bool)
        elif name in _STRING_CLAIMS:
            valid = isinstance(value, str) and bool(value)
        else:
            valid = value is not None
        if not valid:
            raise TokenInvalid()


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified access token says about its bearer."""

    user_id: uuid.UUID
    expires_at: int
    claims: Mapping[str, Any]
    mode: str
    # The auth server's user object (remote mode); None in local mode (not in the token).
    profile: Mapping[str, Any] | None = None
    organization: Mapping[str, Any] | None = None
    licenses: Mapping[str, Any] | None = None

    @property
    def role(self) -> str | None:
        value = (self.organization or {}).get("role")
        return str(value) if value is not None else None

    @property
    def given_name(self) -> str | None:
        return self._name("firstName", "given_name")

    @property
    def family_name(self) -> str | None:
        return self._name("lastName", "family_name")

    @property
    def name(self) -> str | None:
        """The full name: the token's `name` claim, or the auth server's first and last."""
        if self.profile is None and isinstance(self.claims.get("name"), str):
            return str(self.claims["name"])
        parts = [part for part in (self.given_name, self.family_name) if part]
        return " ".join(parts) if parts else None

    def _name(self, profile_key: str, claim: str) -> str | None:
        # Remote mode: the auth server's current user object; otherwise the token's claims.
        if self.profile is not None:
            value = self.profile.get(profile_key)
        else:
            value = self.claims.get(claim)
        return value if isinstance(value, str) else None

    def user_fields(self) -> dict[str, Any]:
        """The local user's fields this verification is authoritative for."""
        if self.profile is not None:
            return {
                "email": str(self.profile.get("email") or ""),
                "first_name": str(self.profile.get("firstName") or "")[:150],
                "last_name": str(self.profile.get("lastName") or "")[:150],
                "is_active": bool(self.profile.get("isActive", True)),
            }
        fields: dict[str, Any] = {}
        email = self.claims.get("email")
        # Local and hybrid modes know what the token says: the e-mail and, from tokens that
        # carry them, the names; the active flag needs the server (remote, or hybrid's feed).
        if isinstance(email, str) and email:
            fields["email"] = email
        for field_name, value in (("first_name", self.given_name), ("last_name", self.family_name)):
            if value is not None:
                fields[field_name] = value[:150]
        return fields


# -- remote -----------------------------------------------------------------------------------


class RemoteVerifier:
    """Asks the auth server (GET /api/auth/me) on every call; callers cache."""

    mode = "remote"

    def __init__(self, client: AuthServerClient) -> None:
        self.client = client

    def verify(self, token: str) -> VerifiedToken:
        claims = unverified_claims(token)
        if claims["exp"] <= now():
            # Expired is expired: no need to ask the server.
            raise TokenExpired()
        try:
            data = self.client.verify_token(token)
        except AuthServerRejected as exc:
            if exc.status != 401:
                raise
            # The server's refusal, its code and message kept (token_revoked, ...).
            refusal = _TOKEN_ERRORS.get(exc.code, TokenInvalid)
            raise refusal(exc.server_message, exc.code) from exc
        try:
            user = data["user"]
            user_id = uuid.UUID(str(user["id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthServerUnavailable(
                "Unexpected answer from the authentication service"
            ) from exc
        # The server verified the signature, so the payload we decoded is authentic.
        return VerifiedToken(
            user_id=user_id,
            expires_at=int(claims["exp"]),
            claims=claims,
            mode=self.mode,
            profile=user,
            organization=data.get("organization"),
            licenses=data.get("licenses") or {},
        )


_TOKEN_ERRORS: dict[str, type[TokenError]] = {
    TokenExpired.code: TokenExpired,
    TokenRevoked.code: TokenRevoked,
}


# -- local ------------------------------------------------------------------------------------


class JWKSCache:
    """The auth server's public keys by `kid`, refreshed every `lifespan` seconds.

    An unknown `kid` triggers one refetch, at most one per `refetch_cooldown` seconds across
    all kids (a flood of forged kids cannot turn into a flood of fetches). During the
    cool-down an unknown kid gets 503 + Retry-After rather than 401: it may be a freshly
    rotated key, and a 401 would log its users out. On an outage the last keys stay in use.

    Not PyJWT's PyJWKClient: it fetches through urllib (no pool, no breaker, no 503 mapping),
    stops verifying altogether when the server is down after its cached set expired, and
    reports "cooling down" and "no such key" as one error. Parsing is PyJWT's (PyJWKSet).
    """

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        lifespan: float,
        refetch_cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.lifespan = lifespan
        self.refetch_cooldown = refetch_cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PyJWK] = {}
        self._fresh_until: float | None = None
        self._last_fetch: float | None = None
        self.fetches = 0

    def key(self, kid: str) -> PyJWK:
        with self._lock:
            clock = self._clock()
            if self._fresh_until is None or clock >= self._fresh_until:
                self._refresh(keep_stale=self._fresh_until is not None)
            found = self._keys.get(kid)
            if found is not None:
                return found
            assert self._last_fetch is not None
            wait = self._last_fetch + self.refetch_cooldown - self._clock()
            if wait > 0:
                raise SigningKeyNotYetKnown(retry_after=wait)
            # An outage now is a 503 (raised), never "unknown key" (401).
            self._refresh(keep_stale=False)
            found = self._keys.get(kid)
            if found is None:
                raise TokenInvalid()
            return found

    @property
    def loaded(self) -> int:
        """How many keys are at hand (0 before the first fetch succeeds)."""
        return len(self._keys)

    def _refresh(self, keep_stale: bool) -> None:
        self._last_fetch = self._clock()
        self.fetches += 1
        try:
            keys = self._parse(self._fetch())
        except AuthServerUnavailable:
            metrics.JWKS_REFRESHES.labels("failure").inc()
            if not (keep_stale and self._keys):
                raise
            # Keep verifying with the keys we have; try again after a cool-down.
            self._fresh_until = self._clock() + self.refetch_cooldown
            return
        metrics.JWKS_REFRESHES.labels("success").inc()
        self._keys = keys
        self._fresh_until = self._clock() + self.lifespan

    @staticmethod
    def _parse(document: dict[str, Any]) -> dict[str, PyJWK]:
        try:
            key_set = PyJWKSet.from_dict(document)
        except jwt.PyJWTError as exc:
            raise AuthServerUnavailable("The authentication service sent no usable keys") from exc
        return {
            key.key_id: key
            for key in key_set.keys
            # Only RSA signing keys: the algorithm list is pinned to RS256.
            if key.key_id and key.key_type == "RSA" and key.public_key_use in ("sig", None)
        }


class RevocationCheck(Protocol):
    """The hybrid mode's hook: True when the revocation feed says the token is dead."""

    def is_revoked(self, claims: Mapping[str, Any]) -> bool: ...


def issuer_from_settings(client: AuthServerClient, conf: ClientSettings) -> Issuer:
    return Issuer(
        client.fetch_discovery,
        conf.jwt_issuer,
        conf.jwks_lifespan,
        conf.jwks_refetch_cooldown,
        service_url=conf.service_url,
    )


@dataclass
class LocalVerifier:
    """Verifies signature, algorithm, `exp`, `iat`, `iss` and `aud` in process: no network
    call per request (the JWKS and the issuer are fetched once per lifespan)."""

    keys: JWKSCache
    issuer: Issuer
    audience: str
    leeway: int = 0
    # How far in the future `iat` may be: replica clocks differ by a few seconds, and a fresh
    # token from a replica ahead of ours must not be refused. Not the `exp` leeway, which is
    # about how long an expired token stays usable.
    iat_skew: int = 0
    revocations: RevocationCheck | None = None
    mode: str = field(default="local")

    @classmethod
    def from_settings(
        cls,
        client: AuthServerClient,
        conf: ClientSettings,
        issuer: Issuer | None = None,
        revocations: RevocationCheck | None = None,
        mode: str = "local",
    ) -> LocalVerifier:
        keys = JWKSCache(client.fetch_jwks, conf.jwks_lifespan, conf.jwks_refetch_cooldown)
        issuer = issuer or issuer_from_settings(client, conf)
        return cls(
            keys, issuer, conf.jwt_audience, conf.jwt_leeway, conf.jwt_iat_skew, revocations, mode
        )

    def verify(self, token: str) -> VerifiedToken:
        header = _header(token.partition(".")[0])
        kid = header.get("kid")
        # Checked before any key lookup: a token naming another algorithm is not ours.
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str) or not kid:
            raise TokenInvalid()
        key = self.keys.key(kid)
        issuer = self.issuer.expected()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=issuer,
                audience=self.audience,
                leeway=self.leeway,
                # `iat` is checked below with its own allowance (iat_skew), not the leeway.
                options={"require": REQUIRED_CLAIMS, "verify_iat": False},
            )
            check_claim_types(claims)
            user_id = uuid.UUID(claims["sub"])
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.InvalidIssuerError as exc:
            # Logs (once) the configuration error when AUTH_JWT_ISSUER disagrees with the server.
            self.issuer.mismatch()
            raise TokenInvalid() from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenInvalid() from exc
        current = now()
        if claims["exp"] + self.leeway <= current:
            # Same clock as the caches use, so a cached and a fresh check agree.
            raise TokenExpired()
        if claims["iat"] > current + self.iat_skew:
            # Issued further in the future than replica clocks can differ: not a real token.
            raise TokenInvalid()
        if self.revocations is not None and self.revocations.is_revoked(claims):
            raise TokenRevoked()
        org = claims.get("org")
        return VerifiedToken(
            user_id=user_id,
            expires_at=int(claims["exp"]),
            claims=claims,
            mode=self.mode,
            organization=_organization_from_claims(claims) if org else None,
        )


@functools.lru_cache(maxsize=64)
def _header(segment: str) -> Mapping[str, Any]:
    """A token's header (unverified: it only picks the key; PyJWT's decode checks it again).
    The tokens of one signing key share it, so it is parsed once, not on every new token."""
    try:
        # PyJWT's parser, given the header segment alone (empty payload and signature).
        # Read-only: one cached mapping is shared by every token of that key.
        return types.MappingProxyType(jwt.get_unverified_header(f"{segment}.."))
    except jwt.PyJWTError as exc:
        raise TokenInvalid() from exc


def _organization_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The token's organization in the shape of /api/auth/me's (name and slug when the
    token carries them)."""
    organization = {"id": claims["org"], "role": claims.get("role")}
    for claim, key in (("org_name", "name"), ("org_slug", "slug")):
        if isinstance(claims.get(claim), str):
            organization[key] = claims[claim]
    return organization
