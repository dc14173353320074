"""The browser (SSO) session of the auth server: one cookie, bound to a session row.

The cookie (SSO_COOKIE_NAME, HttpOnly, SameSite=Lax, Secure in production, Path=/) holds
`<session id>.<secret>`; the session row keeps only the secret's SHA-256 (`browser_hash`).
Being a row of `sessions` like any API session, it ends by every path that ends sessions:
sign-out, logout-all, a password change or reset, a disable, the admin revoke; all of them
go through `Revocations`, so the feed carries it too. A cookie whose row is revoked,
expired, of a disabled user or of an older credentials version is no session at all.

Used by the hosted pages and by the OIDC provider (authorize, end-session): this module's
names are the interface between them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from hmac import compare_digest
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from auth_server.models import AuthSession, User
from auth_server.services import Services
from auth_server.sessions import ClientInfo, Identity, session_amr
from auth_server.tokens import hash_opaque_token
from auth_server.web.csrf import CsrfDep, csrf_token, require_csrf

__all__ = [
    "BrowserSession",
    "CsrfDep",
    "clear_sso_cookie",
    "csrf_token",
    "current_browser_session",
    "end_browser_session",
    "open_browser_session",
    "require_csrf",
    "safe_next",
    "set_sso_cookie",
    "signin_redirect",
]

SIGNIN_PATH = "/signin"
# Where a sign-in without a (valid) `next` lands.
DEFAULT_NEXT = "/account"


@dataclass(frozen=True)
class BrowserSession:
    user: User
    session_id: uuid.UUID
    auth_time: datetime
    amr: tuple[str, ...]


def current_browser_session(
    request: Request, services: Services, db: Session, *, touch: bool = True
) -> BrowserSession | None:
    """The live browser session of this request's cookie; None when there is no cookie, or
    it is unknown, revoked, expired, or its user is disabled. `touch`: record the use (its
    `last_used_at`, throttled; Sessions.touch commits it), as every hosted page and
    authorization request does; call it before the request writes anything else."""
    raw = request.cookies.get(services.settings.sso_cookie_name, "")
    session_part, _, secret = raw.partition(".")
    try:
        session_id = uuid.UUID(session_part)
    except ValueError:
        return None
    row = db.get(AuthSession, session_id)
    # Constant time, and only browser rows: an API session's id (the `sid` every access
    # token shows) is never enough to be signed in.
    if (
        row is None
        or row.browser_hash is None
        or not secret
        or not compare_digest(row.browser_hash, hash_opaque_token(secret))
    ):
        return None
    user = services.sessions.live_user(db, row)
    if user is None:
        return None
    if touch:
        services.sessions.touch(db, row)
    return BrowserSession(
        user=user, session_id=row.id, auth_time=row.created_at, amr=session_amr(row.amr)
    )


def safe_next(next_url: str | None) -> str:
    """`next_url` if it is a path on this server, else DEFAULT_NEXT: never an open redirect.

    Refused: anything with a scheme or host, protocol-relative `//host`, backslashes (which
    browsers read as slashes: `/\\host`), and control characters.
    """
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in next_url or any(ord(char) < 0x20 or ord(char) == 0x7F for char in next_url):
        return DEFAULT_NEXT
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    return next_url


def signin_redirect(
    next_url: str, *, force_login: bool = False, login_hint: str | None = None
) -> RedirectResponse:
    """303 to the sign-in page, which comes back to `next_url` (a path on this server)
    once signed in. `force_login`: ask for the password even with a live browser session
    (OIDC prompt=login, max_age)."""
    params = {"next": safe_next(next_url)}
    if force_login:
        params["force"] = "1"
    if login_hint:
        params["login_hint"] = login_hint
    return RedirectResponse(f"{SIGNIN_PATH}?{urlencode(params)}", status_code=303)


def end_browser_session(
    db: Session, services: Services, session_id: uuid.UUID, *, reason: str
) -> None:
    """Revokes the session in the caller's transaction (with its revocation event, so the
    feed carries it); the caller commits."""
    services.revocations.revoke_session(db, session_id, reason=reason)


def open_browser_session(
    request: Request, services: Services, db: Session, client: ClientInfo, identity: Identity
) -> tuple[uuid.UUID, str]:
    """Signs this browser in as `identity` (after its password, and its second factor when
    it has one), replacing its earlier session: the new session's id and cookie secret."""
    # Not touched: it is being replaced, and the caller's writes are not to be committed yet.
    previous = current_browser_session(request, services, db, touch=False)
    return services.login.issue_browser_session(
        db,
        identity,
        client,
        services.settings.sso_session_ttl,
        replaces=previous.session_id if previous else None,
    )


def set_sso_cookie(
    response: Response, services: Services, session_id: uuid.UUID, secret: str
) -> None:
    settings = services.settings
    response.set_cookie(
        settings.sso_cookie_name,
        f"{session_id}.{secret}",
        max_age=settings.sso_session_ttl,
        path="/",
        # No script may read it (an injected script must not carry the session away); Lax:
        # top-level navigations from products (OIDC authorize) carry it, cross-site posts
        # and sub-requests do not; Secure: never sent over plain HTTP in production.
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_sso_cookie(response: Response, services: Services) -> None:
    """Deletes the SSO cookie. (Takes the services for SSO_COOKIE_NAME: the one place the
    name is configured.)"""
    settings = services.settings
    response.delete_cookie(
        settings.sso_cookie_name,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
