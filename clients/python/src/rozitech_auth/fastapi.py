"""The FastAPI/Starlette adapter: `current_user`, `require_license`, `require_role`.

    from rozitech_auth.fastapi import CurrentUser, lifespan, require_role

    app = FastAPI(lifespan=lifespan)

    @app.get("/me")
    def me(user: CurrentUser) -> dict[str, str]:
        return {"id": user.user_id}

Settings come from the environment (AUTH_SERVICE_URL, AUTH_VERIFY_MODE, AUTH_SERVICE_TOKEN,
...: rozitech_auth.conf) unless `configure(...)` names them in code. The modes, the 503 on an
outage and hybrid's revocation feed are the core's (rozitech_auth.verification); this module
adds a process cache of verifications and turns the library's errors into HTTPExceptions in
one place (`http_exception`). The feed's thread starts on first use, or with `lifespan`,
which also stops it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from rozitech_auth import conf, licenses, metrics, tokens
from rozitech_auth.client import reset_auth_client
from rozitech_auth.errors import (
    AuthError,
    AuthServerRejected,
    AuthServerUnavailable,
    TokenError,
    TokenExpired,
    TokenRevoked,
)
from rozitech_auth.tokens import VerifiedToken, token_digest
from rozitech_auth.verification import Verification, bearer_token

__all__ = [
    "CurrentUser",
    "Identity",
    "configure",
    "current_user",
    "http_exception",
    "lifespan",
    "require_license",
    "require_role",
    "shutdown",
]

# Seconds a remote verification is reused (bounded by the token's `exp`), as the DRF class.
CACHE_TTL = 60


@dataclass(frozen=True)
class Identity:
    """The verified caller."""

    user_id: str
    email: str | None
    org: str | None
    role: str | None
    # The license map of remote mode; None in local and hybrid modes (see `products`).
    licenses: Mapping[str, Any] | None
    claims: Mapping[str, Any]
    mode: str
    expires_at: int
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = None
    # The products the organization may use (the map's usable ones, or the token's
    # `licenses` claim); None when neither is known: require_license asks the server.
    products: frozenset[str] | None = None

    def has_license(self, product: str) -> bool:
        return product in (self.products or ())

    @classmethod
    def of(cls, verified: VerifiedToken) -> Identity:
        organization = verified.organization or {}
        email = (verified.profile or {}).get("email") or verified.claims.get("email")
        return cls(
            user_id=str(verified.user_id),
            email=str(email) if email else None,
            org=str(organization["id"]) if organization.get("id") else None,
            role=verified.role,
            licenses=verified.licenses,
            claims=verified.claims,
            mode=verified.mode,
            expires_at=verified.expires_at,
            given_name=verified.given_name,
            family_name=verified.family_name,
            name=verified.name,
            products=licenses.products(verified),
        )


_state: Verification[VerifiedToken] = Verification()


def configure(**settings: Any) -> None:
    """Settings in code (the environment's names: AUTH_SERVICE_URL=..., AUTH_VERIFY_MODE=...);
    those not given still come from the environment. Resets the client and the caches."""
    conf.use_source(
        conf.Source(lambda name, default: settings.get(name, conf.ENVIRONMENT.get(name, default)))
    )
    shutdown()


def shutdown() -> None:
    """Stops the revocation feed and forgets the client and caches (settings changed, or
    the app stops)."""
    global _state
    old, _state = _state, Verification()
    old.close()
    reset_auth_client()


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan: hybrid's feed starts with the app and stops with it."""
    if conf.client_settings().verify_mode == "hybrid":
        _state.revocation_feed().ensure_running()
    try:
        yield
    finally:
        shutdown()


def http_exception(error: AuthError) -> HTTPException:
    """The one place where the library's errors become HTTP answers."""
    body = {"code": error.code, "message": error.message}
    if isinstance(error, TokenError):
        return HTTPException(401, body, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    if isinstance(error, AuthServerUnavailable):
        return HTTPException(503, body, headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, AuthServerRejected):
        headers = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after else None
        return HTTPException(error.status, body, headers=headers)
    return HTTPException(502, body)


def _verify(token: str, mode: str) -> VerifiedToken:
    """A verification from the cache, or made now (single-flight per token)."""
    state = _state
    feed = state.revocation_feed() if mode == "hybrid" else None
    key = f"{mode}:{CACHE_TTL}:{token_digest(token)}"
    cached = state.process_store.get(key)
    metrics.cache_lookup(hit=cached is not None)
    if cached is not None:
        if cached.expires_at <= tokens.now():
            raise TokenExpired()
        # A cached verification never outlives a revocation (hybrid re-checks each time).
        if feed is not None and feed.is_revoked(cached.claims):
            raise TokenRevoked()
        return cached

    def verify() -> VerifiedToken:
        verified = state.verifier(mode).verify(token)
        to_exp = verified.expires_at - tokens.now()
        # Remote answers are reused for the TTL; local claims stay valid until `exp`.
        ttl = min(CACHE_TTL, math.floor(to_exp)) if mode == "remote" else to_exp
        if ttl > 0:
            state.process_store.set(key, verified, ttl)
        return verified

    return state.flights.do(key, verify, wait_timeout=2 * conf.client_settings().timeout + 1)


def _authenticate(header: bytes, mode: str | None) -> Identity:
    token = bearer_token(header)
    if token is None:
        raise TokenError("Authentication credentials were not provided.", "not_authenticated")
    effective = _state.effective_mode(mode or conf.client_settings().verify_mode)
    with metrics.verification(effective):
        return Identity.of(_verify(token, effective))


async def current_user(request: Request) -> Identity:
    """The verified caller of `Authorization: Bearer <access token>`; 401 without a valid
    token, 503 (Retry-After) when the auth server is needed and cannot answer."""
    header = request.headers.get("authorization", "").encode("latin-1")
    try:
        # Blocking I/O (the auth server, the feed's first backfill): off the event loop.
        return await run_in_threadpool(_authenticate, header, None)
    except AuthError as exc:
        raise http_exception(exc) from exc


# `user: CurrentUser` in a route's parameters: the verified caller.
CurrentUser = Annotated[Identity, Depends(current_user)]


def require_license(product: str) -> Callable[..., Any]:
    """A dependency: the caller, 403 unless they hold a usable license of `product`."""

    async def licensed(request: Request, user: CurrentUser) -> Identity:
        if user.products is None:
            # A token without the `licenses` claim (an older auth server) in local or hybrid
            # mode: the auth server's answer (cached).
            header = request.headers.get("authorization", "").encode("latin-1")
            try:
                user = await run_in_threadpool(_authenticate, header, "remote")
            except AuthError as exc:
                raise http_exception(exc) from exc
        if not user.has_license(product):
            raise HTTPException(
                403, {"code": "license_required", "message": f"No {product} license"}
            )
        return user

    return licensed


def require_role(*roles: str) -> Callable[..., Any]:
    """A dependency: the caller, 403 unless their role in their organization is one of
    `roles`."""

    async def with_role(user: CurrentUser) -> Identity:
        if user.role not in roles:
            raise HTTPException(403, {"code": "role_required", "message": "Not permitted"})
        return user

    return with_role
