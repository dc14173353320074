"""DRF authentication that trusts the auth server's access tokens.

    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "rozitech_auth.django.authentication.RemoteJWTAuthentication", ...]}

The verification mode comes from `AUTH_VERIFY_MODE` (or a subclass's `verify_mode`):
`remote` asks GET /api/auth/me and caches the answer in the Django cache for
min(cache_ttl, seconds until `exp`); `local` verifies the signature against the JWKS and keeps
the verified claims in process until `exp`; `hybrid` (the default) is `local` plus the
revocation set of rozitech_auth.revocations, checked on every request, cached or not, and
falls back to `remote` while that set is stale. The verifiers come from the registry of
rozitech_auth.verification; the library's errors become DRF's in `authenticate`
(rozitech_auth.django.exceptions).

`request.auth` is an `AuthToken`: the raw token string, carrying the claims, organization,
role and licenses, so views can check access without another call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import caches
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from rozitech_auth import licenses, metrics, tokens
from rozitech_auth.conf import check_verify_mode, client_settings
from rozitech_auth.django.exceptions import api_exception
from rozitech_auth.django.signals import announce, token_verified
from rozitech_auth.django.users import LocalUsers, sync_user
from rozitech_auth.end_user import EndUser, end_user_of
from rozitech_auth.errors import (
    AccountInactive,
    AuthError,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from rozitech_auth.revocations import RevocationFeed
from rozitech_auth.tokens import LocalVerifier, VerifiedToken, token_digest
from rozitech_auth.verification import VERIFIERS, ProcessStore, Verification, bearer_token

__all__ = [
    "AuthToken",
    "CachedRemoteJWTAuthentication",
    "OptionalRemoteJWTAuthentication",
    "RemoteJWTAuthentication",
]


class AuthToken(str):
    """`request.auth`: the raw access token (a str, as DRF callers expect) plus what its
    verification established."""

    verified: VerifiedToken

    def __new__(cls, raw: str, verified: VerifiedToken) -> AuthToken:
        obj = super().__new__(cls, raw)
        obj.verified = verified
        return obj

    def __repr__(self) -> str:
        # Never the token itself in logs or tracebacks: it is a bearer credential.
        return f"<AuthToken sub={self.user_id} exp={self.expires_at} mode={self.mode}>"

    @property
    def claims(self) -> Mapping[str, Any]:
        return self.verified.claims

    @property
    def user_id(self) -> str:
        return str(self.verified.user_id)

    @property
    def expires_at(self) -> int:
        return self.verified.expires_at

    @property
    def mode(self) -> str:
        return self.verified.mode

    @property
    def organization(self) -> Mapping[str, Any] | None:
        return self.verified.organization

    @property
    def organization_id(self) -> str | None:
        org = self.verified.organization
        return str(org["id"]) if org and org.get("id") else None

    @property
    def role(self) -> str | None:
        return self.verified.role

    @property
    def given_name(self) -> str | None:
        return self.verified.given_name

    @property
    def family_name(self) -> str | None:
        return self.verified.family_name

    @property
    def name(self) -> str | None:
        return self.verified.name

    @property
    def licenses(self) -> Mapping[str, Any] | None:
        """The license map (remote mode); None in local and hybrid modes: see `products`."""
        return self.verified.licenses

    @property
    def products(self) -> frozenset[str] | None:
        """The products the organization may use: the map's usable ones (remote), or the
        token's `licenses` claim (local, hybrid); None when neither is known."""
        return licenses.products(self.verified)

    def has_license(self, product: str) -> bool:
        """A usable license (trial or active, not expired), in every mode (see licenses)."""
        return licenses.has_license(self.verified, product)


# -- caches -----------------------------------------------------------------------------------


@dataclass
class CacheEntry:
    """A verified token and its local user; `verified=None` is a cached rejection."""

    verified: VerifiedToken | None
    user: AbstractBaseUser | None
    user_fresh_until: float
    message: str = ""


class EntryStore(Protocol):
    def get(self, key: str) -> CacheEntry | None: ...

    def set(self, key: str, entry: CacheEntry, ttl: float) -> None: ...


class DjangoCacheStore:
    """Remote mode: the Django cache (Redis when REDIS_URL is set), shared by replicas."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def get(self, key: str) -> CacheEntry | None:
        entry = caches[self.alias].get(key)
        return entry if isinstance(entry, CacheEntry) else None

    def set(self, key: str, entry: CacheEntry, ttl: float) -> None:
        # Whole seconds, rounded down (callers already bound `ttl` by the token's `exp`).
        timeout = math.floor(ttl)
        if timeout >= 1:
            caches[self.alias].set(key, entry, timeout)


class TieredStore:
    """Remote mode: process memory in front of the Django cache. A front entry expires at
    the same instant as the shared one it copies (verification time + TTL), so the front
    changes nothing about how soon a logout is seen; it only saves the cache round trip
    and the unpickling on the steady path."""

    def __init__(self, front: ProcessStore[CacheEntry], back: DjangoCacheStore) -> None:
        self.front = front
        self.back = back

    def get(self, key: str) -> CacheEntry | None:
        entry = self.front.get(key)
        if entry is not None:
            return entry
        entry = self.back.get(key)
        if entry is not None and entry.verified is not None:
            remaining = entry.user_fresh_until - tokens.now()
            if remaining > 0:
                self.front.set(key, entry, remaining)
        return entry

    def set(self, key: str, entry: CacheEntry, ttl: float) -> None:
        self.back.set(key, entry, ttl)
        if entry.verified is not None:
            self.front.set(key, entry, ttl)


def _on_feed_event(event: Mapping[str, Any]) -> None:
    # A revocation or membership change of a user: their synced local user is re-read.
    _users.forget_event(event)
    # Membership events of hybrid's feed become the membership_changed signal.
    announce(event)


def _new_state() -> Verification[CacheEntry]:
    return Verification(on_event=_on_feed_event)


_state = _new_state()
_users = LocalUsers()


def reset_state() -> None:
    global _state, _users
    old, _state = _state, _new_state()
    _users = LocalUsers()
    # The old state's feed thread stops (settings changed, or a test reset the state).
    old.close()


def user_saved(user_id: Any) -> None:
    """The local user of this auth server id was saved or deleted here: re-read next time."""
    _users.saved(user_id)


def revocation_status() -> dict[str, str]:
    """Hybrid mode's revocation set for /health: state (live, starting, stale) and how it
    is kept current (redis, polling); {"state": "off"} in the other modes."""
    if client_settings().verify_mode != "hybrid":
        return {"state": "off"}
    feed = _state.revocation_feed()
    feed.ensure_running()
    return {"state": feed.status(), "via": feed.transport}


def jwks_status() -> dict[str, Any]:
    """For readiness: how many signing keys local verification holds ({"state": "off"} in
    remote mode). Fetched on first use: "empty" until a token has been verified locally."""
    mode = client_settings().verify_mode
    if mode == "remote":
        return {"state": "off"}
    verifier = _state.verifier(mode)
    count = verifier.keys.loaded if isinstance(verifier, LocalVerifier) else 0
    return {"state": "loaded" if count else "empty", "keys": count}


def end_user(request: HttpRequest) -> EndUser | None:
    """Who a request comes from, for calls made on their behalf (rozitech_auth.end_user)."""
    return end_user_of(request.META, client_settings().trusted_proxies)


def issuer_status() -> dict[str, str]:
    """For /health: {"state": "mismatch", "error": why} when AUTH_JWT_ISSUER disagrees with
    the auth server's discovery document; "ok" otherwise; "off" in remote mode (the auth
    server checks the issuer itself)."""
    if client_settings().verify_mode == "remote":
        return {"state": "off"}
    error = _state.token_issuer().mismatch()
    return {"state": "mismatch", "error": error} if error else {"state": "ok"}


# -- the authentication classes ---------------------------------------------------------------


class RemoteJWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token>` verified as AUTH_VERIFY_MODE says.

    None when the header is not a Bearer one (another class may handle it); 401 with
    `WWW-Authenticate: Bearer` when it is and is bad; 503 + Retry-After when the auth server
    is needed and cannot answer.
    """

    keyword = "Bearer"
    www_authenticate_realm = "api"
    # Seconds a verification (remote) or a local user (both modes) is reused; 0 = never.
    cache_ttl = 60
    # None: settings.AUTH_VERIFY_MODE.
    verify_mode: str | None = None

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, AuthToken] | None:
        try:
            raw = self.get_raw_token(request)
            if raw is None:
                return None
            return self.authenticate_credentials(raw)
        except AuthError as exc:
            # The library's error as DRF's (401 with WWW-Authenticate, 503 with Retry-After).
            raise api_exception(exc) from exc

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'

    def get_raw_token(self, request: Request) -> str | None:
        return bearer_token(get_authorization_header(request), self.keyword)

    def authenticate_credentials(self, token: str) -> tuple[AbstractBaseUser, AuthToken]:
        conf = client_settings()
        mode = self.verify_mode or conf.verify_mode
        if mode not in VERIFIERS:
            check_verify_mode(mode)  # a subclass's unknown mode: the configuration error
        state = _state
        mode = state.effective_mode(mode)
        feed = state.revocation_feed() if mode == "hybrid" else None
        store: EntryStore = (
            TieredStore(state.process_store, DjangoCacheStore(conf.cache_alias))
            if mode == "remote"
            else state.process_store
        )
        with metrics.verification(mode):
            return self._verify(token, mode, feed, store)

    def _verify(
        self, token: str, mode: str, feed: RevocationFeed | None, store: EntryStore
    ) -> tuple[AbstractBaseUser, AuthToken]:
        # The TTL is part of the key: a 5-minute entry must not serve a 1-minute class.
        key = f"core.auth:v1:{mode}:{self.cache_ttl}:{token_digest(token)}"
        entry = store.get(key)
        metrics.cache_lookup(hit=entry is not None)
        current = tokens.now()
        if entry is not None:
            if entry.verified is None:
                raise TokenInvalid(entry.message)
            # The cache may hold it a little longer (whole seconds): `exp` decides.
            if entry.verified.expires_at <= current:
                raise TokenExpired()
            # A cached verification never outlives a revocation: hybrid re-checks the
            # (in-process, lock-free) revocation set on every request.
            if feed is not None and feed.is_revoked(entry.verified.claims):
                raise TokenRevoked()
            if entry.user is not None and entry.user_fresh_until > current:
                return self._result(entry.user, entry.verified, token)
        verified, user = _state.flights.do(
            key,
            lambda: self._miss(token, key, mode, store, entry),
            wait_timeout=2 * client_settings().timeout + 1,
        )
        return self._result(user, verified, token)

    def _miss(
        self, token: str, key: str, mode: str, store: EntryStore, entry: CacheEntry | None
    ) -> tuple[VerifiedToken, AbstractBaseUser]:
        verified = entry.verified if entry is not None else None
        if verified is None:
            try:
                verified = _state.verifier(mode).verify(token)
            except TokenError as exc:
                negative_ttl = client_settings().negative_cache_ttl
                # Not for a token issued "in the future" by our clock: its refusal may be the
                # clock of a replica behind the issuer's, which a retry would not repeat.
                if mode == "remote" and negative_ttl and not _issued_ahead(token):
                    # A flood of one bad token reaches the auth server once per negative TTL.
                    rejected = CacheEntry(None, None, 0.0, exc.message)
                    store.set(key, rejected, negative_ttl)
                raise
        user, user_fresh_until = self._local_user(token, verified)
        if self.cache_ttl > 0:
            current = tokens.now()
            to_exp = verified.expires_at - current
            if mode == "remote":
                # The server's answer is reused for min(TTL, whole seconds left until `exp`).
                ttl = min(self.cache_ttl, math.floor(to_exp))
                fresh_until = min(user_fresh_until, current + ttl)
                store.set(key, CacheEntry(verified, user, fresh_until), ttl)
            else:
                # The claims stay valid until `exp`; the local user is re-read after the TTL
                # from its sync (not from this token: a cached user is never older than it).
                fresh_until = min(user_fresh_until, current + to_exp)
                store.set(key, CacheEntry(verified, user, fresh_until), to_exp)
        return verified, user

    def _local_user(self, token: str, verified: VerifiedToken) -> tuple[AbstractBaseUser, float]:
        """The token's local user and until when it may be reused: a known user's token
        that says nothing new costs no query (LocalUsers); otherwise synced and announced."""
        users, ttl = _users, self.cache_ttl
        if ttl > 0:
            synced = users.get(verified, ttl)
            if synced is not None:
                return synced.user, synced.synced_at + ttl

        def sync() -> AbstractBaseUser:
            user = sync_user(verified)
            token_verified.send(sender=type(self), user=user, token=AuthToken(token, verified))
            return user

        synced = users.sync(verified, ttl, sync)
        return synced.user, synced.synced_at + ttl

    def _result(
        self, user: AbstractBaseUser, verified: VerifiedToken, token: str
    ) -> tuple[AbstractBaseUser, AuthToken]:
        # A valid token is not enough: a deactivated local account stays out.
        if not user.is_active:
            raise AccountInactive()
        # A copy per request: a cached instance is shared by threads and later requests.
        user = _copy_model(user)
        auth = AuthToken(token, verified)
        user.auth_context = auth  # type: ignore[attr-defined]
        return user, auth


def _copy_model(user: AbstractBaseUser) -> AbstractBaseUser:
    """copy.copy(user) without the pickle protocol's detour (__reduce__, model_unpickle, the
    app registry; 9 us of a 30 us request): the fields, and the instance state copied as
    Django's own ModelState.__getstate__ copies it (its caches not shared)."""
    clone = type(user).__new__(type(user))
    clone.__dict__.update(user.__dict__)
    model_state = user._state
    clone._state = type(model_state).__new__(type(model_state))
    # A dict (the stubs say object): its fields and a copy of its caches.
    copied = cast(dict[str, Any], model_state.__getstate__())
    clone._state.__dict__.update(copied)
    return clone


def _issued_ahead(token: str) -> bool:
    """True when the token's `iat` is ahead of this process's clock."""
    try:
        issued_at: int = tokens.unverified_claims(token)["iat"]
    except TokenError:
        return False
    return issued_at > tokens.now()


class OptionalRemoteJWTAuthentication(RemoteJWTAuthentication):
    """Anonymous when the token is missing or invalid; still 503 when the auth server is
    down (an outage must not silently turn signed-in users into anonymous ones)."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, AuthToken] | None:
        try:
            raw = self.get_raw_token(request)
            return None if raw is None else self.authenticate_credentials(raw)
        except TokenError:
            return None
        except AuthError as exc:
            raise api_exception(exc) from exc


class CachedRemoteJWTAuthentication(RemoteJWTAuthentication):
    """Caches 5 minutes instead of 1: fewer auth server calls, a logout seen later."""

    cache_ttl = 300
