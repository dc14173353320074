"""The admin site's login form: the auth server decides, and its reason is shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _
from rozitech_auth.django.authentication import end_user

from accounts.backends import LoginRefused, login_through_auth_server
from accounts.models import User
from accounts.sessions import end_auth_server_session


class AuthServerAdminLoginForm(AdminAuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Staff sign in with their auth-server e-mail address, not a local username.
        self.fields["username"].label = _("E-mail")

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email and password:
            try:
                user = login_through_auth_server(email, password, self.request)
            except LoginRefused as exc:
                raise forms.ValidationError(str(exc), code="invalid_login") from exc
            # Records which backend authenticated the user, as django.contrib.auth expects.
            user.backend = "accounts.backends.AuthServerBackend"  # type: ignore[attr-defined]
            self.user_cache = user
            try:
                self.confirm_login_allowed(user)
            except forms.ValidationError:
                # Not let in: the auth-server session this login made must not live on.
                if user.auth_server_tokens:
                    who = end_user(self.request) if self.request is not None else None
                    end_auth_server_session(user.auth_server_tokens["refresh"], who)
                raise
        return self.cleaned_data

    def confirm_login_allowed(self, user: User) -> None:
        if user.step_up_needed:
            # Staff, but with a password alone while ADMIN_REQUIRE_MFA is on: this form has
            # no second step, "Sign in with Rozitech" has.
            raise forms.ValidationError(
                _(
                    "The admin site requires two-step verification: "
                    "please use “Sign in with Rozitech”."
                ),
                code="mfa_required",
            )
        super().confirm_login_allowed(user)
