"""Admin-site (Django) sessions bound to the auth-server session they were created from.

At login the auth server's access and refresh tokens are kept in the Django session: server
side, in the session store, never in the cookie. On every request of such a session
(accounts.middleware) the access token is verified again and staff/superuser re-derived from
the answer; a refused token ends the Django session. Django's logout logs the auth-server
session out as well, so no admin-site login leaves a live 30-day session behind.

A session made by "Sign in with Rozitech" (accounts.signin) also keeps its ID token; its
tokens belong to the SaaS Admin's OpenID Connect client, so they are refreshed at the token
endpoint and revoked at the revocation endpoint (RFC 7009), both with the client's secret.

The check is `remote` (GET /api/auth/me, never cached), whatever AUTH_VERIFY_MODE says: the
admin site is low-traffic and all-powerful, and one call per request (a few ms) sees at
once what the revocation feed announces (logout, logout-all, password reset or change, a
disabled user) and also what it does not announce yet: a role change, or a removal from the
staff organization. Rejected: hybrid for admin sessions (role changes would wait for the
next refresh, up to ACCESS_TOKEN_TTL).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import SESSION_KEY, user_logged_in, user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import receiver
from django.http import HttpRequest
from rozitech_auth import tokens
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.authentication import AuthToken, RemoteJWTAuthentication, end_user
from rozitech_auth.end_user import EndUser
from rozitech_auth.errors import AuthServerRejected, AuthServerUnavailable, TokenError

from accounts import oidc
from accounts.backends import set_staff
from accounts.models import User
from accounts.staff import has_staff_rights, needs_step_up

logger = logging.getLogger(__name__)

# The session key of the auth server's tokens: {"access": ..., "refresh": ...}.
TOKENS_KEY = "auth_server_tokens"
# The ID token of a session signed in through the OpenID Connect provider (the logout's hint).
ID_TOKEN_KEY = "auth_server_id_token"  # noqa: S105 (a session key)
# Seconds before `exp` at which the access token is refreshed.
REFRESH_AHEAD = 30


class SessionCheck(RemoteJWTAuthentication):
    """The admin session's access token, verified by the auth server on every request."""

    verify_mode = "remote"
    # Never reused: a revocation or a role change is seen on the very next request.
    cache_ttl = 0


class SessionEnded(Exception):
    """The auth server no longer accepts the session: the Django session must end."""


def bound_tokens(session: SessionBase) -> dict[str, str] | None:
    pair = session.get(TOKENS_KEY)
    if isinstance(pair, dict) and {"access", "refresh"} <= pair.keys():
        return pair
    return None


def current_user(request: HttpRequest, pair: dict[str, str]) -> User:
    """The session's user as the auth server sees it now, staff flags re-derived; the
    access token is refreshed (and the rotated tokens kept) shortly before it expires.

    SessionEnded when the auth server refuses it; AuthServerUnavailable when it cannot
    answer (the caller answers 503: an outage must not log anyone out)."""
    try:
        # Refreshed ahead of `exp`: an expired token is never presented, so no refusal
        # of it (remembered for a while) can end a session that is still live.
        if tokens.unverified_claims(pair["access"])["exp"] <= tokens.now() + REFRESH_AHEAD:
            pair = refreshed(request, pair)
            request.session[TOKENS_KEY] = pair
        user = verified_user(pair["access"])
    except TokenError as exc:
        raise SessionEnded(exc.message) from exc
    except oidc.SignInFailed as exc:
        # The token endpoint refused the refresh token: the auth server ended the session.
        raise SessionEnded(str(exc)) from exc
    except AuthServerRejected as exc:
        if exc.status != 401:
            raise
        # The refresh token refused: the auth server ended the session.
        raise SessionEnded(exc.message) from exc
    # The token must be the session's own user's (a session is never re-pointed).
    if str(request.session.get(SESSION_KEY)) != str(user.pk):
        raise SessionEnded("session user mismatch")
    return user


def verified_user(access_token: str) -> User:
    """The user of an access token as the auth server answers now (/me), mirrored locally,
    staff flags re-derived (a second factor in its `amr` when ADMIN_REQUIRE_MFA is on).
    TokenError when refused, AuthServerUnavailable in an outage."""
    user, auth = SessionCheck().authenticate_credentials(access_token)
    assert isinstance(user, User) and isinstance(auth, AuthToken)
    set_staff(user, has_staff_rights(auth.organization, auth.claims))
    user.step_up_needed = needs_step_up(auth.organization, auth.claims)
    return user


def refreshed(request: HttpRequest, pair: dict[str, str]) -> dict[str, str]:
    """The session's tokens after a refresh: at the token endpoint for a session signed in
    through the OpenID Connect provider, through the JSON API for one of the password form."""
    if ID_TOKEN_KEY in request.session:
        fresh = oidc.refresh(pair["refresh"])
        # A provider that does not rotate leaves the refresh token as it was.
        rotated = fresh.get("refresh_token") or pair["refresh"]
        return {"access": str(fresh["access_token"]), "refresh": str(rotated)}
    fresh = get_auth_client().refresh_token(pair["refresh"], end_user=end_user(request))
    return {"access": str(fresh["accessToken"]), "refresh": str(fresh["refreshToken"])}


@receiver(user_logged_in)
def _bind(sender: Any, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    pair = getattr(user, "auth_server_tokens", None)
    if request is not None and pair:
        request.session[TOKENS_KEY] = dict(pair)
        # A password-form login has no ID token; accounts.signin sets its own after this.
        request.session.pop(ID_TOKEN_KEY, None)


@receiver(user_logged_out)
def _logout_auth_server(sender: Any, request: HttpRequest | None, **_kwargs: Any) -> None:
    if request is None:
        return
    pair = bound_tokens(request.session)
    if pair is not None:
        oidc_bound = ID_TOKEN_KEY in request.session
        end_auth_server_session(pair["refresh"], end_user(request), oidc_bound=oidc_bound)


def end_auth_server_session(
    refresh_token: str, user: EndUser | None = None, *, oidc_bound: bool = False
) -> None:
    """Logs the auth-server session out (on behalf of `user`, for its audit row), revoking
    the refresh token of an OpenID Connect sign-in at the revocation endpoint; an outage
    leaves it to expire on its own."""
    try:
        if oidc_bound:
            oidc.revoke(refresh_token)
        else:
            get_auth_client().logout(refresh_token, end_user=user)
    except (AuthServerUnavailable, AuthServerRejected, oidc.SignInFailed) as exc:
        logger.warning("Could not log the admin session out of the auth server: %s", exc)
