"""Django admin login through the auth server: no password is ever stored here."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.authentication import AuthToken, end_user
from rozitech_auth.django.exceptions import api_exception
from rozitech_auth.django.users import sync_user
from rozitech_auth.errors import AuthError, AuthServerRejected, AuthServerUnavailable
from rozitech_auth.tokens import VerifiedToken, unverified_claims

from accounts.models import User
from accounts.staff import has_staff_rights, needs_step_up
from organizations.mirror import mirror_membership


class LoginRefused(Exception):
    """Why the auth server refused a login, in words for the login form."""


class AuthServerBackend(BaseBackend):
    """`authenticate(request, username=email, password=...)` asks the auth server."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        username, password = credentials.get("username"), credentials.get("password")
        if not username or not password:
            return None
        try:
            return login_through_auth_server(username, password, request)
        except LoginRefused:
            return None

    def get_user(self, user_id: Any) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()


def login_through_auth_server(
    email: str, password: str, request: HttpRequest | None = None
) -> User:
    """The local user for these credentials, with staff flags from the auth server's
    organization and role, and `auth_server_tokens` set to the login's access and refresh
    tokens (accounts.sessions keeps them with the Django session). LoginRefused says why
    not, in words for a person."""
    try:
        # The person's address, not ours: the auth server's per-IP limits count them.
        data = get_auth_client().login(
            email, password, end_user=end_user(request) if request is not None else None
        )
    except AuthServerRejected as exc:
        if exc.status == 401:
            raise LoginRefused("Please enter a correct email and password.") from exc
        if exc.status == 403 and exc.code == "email_not_verified":
            raise LoginRefused("Please verify your email address before logging in.") from exc
        if exc.status == 403:
            raise LoginRefused("This account has been disabled.") from exc
        raise LoginRefused(str(api_exception(exc).detail)) from exc
    except AuthServerUnavailable as exc:
        raise LoginRefused(
            "The authentication service is unavailable; please try again in a moment."
        ) from exc
    except AuthError as exc:
        raise LoginRefused(str(api_exception(exc).detail)) from exc
    if data.get("mfaRequired"):
        # The password form has no second step; no tokens were issued, the pending
        # challenge expires on its own.
        raise LoginRefused(
            "This account uses two-step verification: please use “Sign in with Rozitech”."
        )
    token = str(data["accessToken"])
    organization = data.get("organization") or None
    # The claims come straight from the auth server's login answer, not from a client.
    claims = unverified_claims(token)
    verified = VerifiedToken(
        user_id=uuid.UUID(str(data["user"]["id"])),
        expires_at=int(claims["exp"]),
        claims=claims,
        mode="login",
        profile=data["user"],
        organization=organization,
        licenses=data.get("licenses"),
    )
    user = sync_user(verified)
    assert isinstance(user, User)
    mirror_membership(user, AuthToken(token, verified))
    set_staff(user, has_staff_rights(organization, claims))
    user.step_up_needed = needs_step_up(organization, claims)
    user.auth_server_tokens = {"access": token, "refresh": str(data["refreshToken"])}
    return user


def set_staff(user: User, is_staff: bool) -> None:
    """Staff and superuser as the auth server's identity says, stored only when changed."""
    if (user.is_staff, user.is_superuser) != (is_staff, is_staff):
        user.is_staff = user.is_superuser = is_staff
        User.objects.filter(pk=user.pk).update(is_staff=is_staff, is_superuser=is_staff)
