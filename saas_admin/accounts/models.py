"""The local user, keyed to the auth server's user id."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    # The auth server's user id: the only key users are matched by. Never the e-mail,
    # which can change and could then be taken by someone else.
    # Null for local-only accounts (staff created with createsuperuser).
    auth_user_id = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    # Epoch seconds of the newest token that said this user belongs to no organization
    # (organizations.mirror): older tokens, verified late, bring no membership back.
    memberships_as_of = models.BigIntegerField(null=True, blank=True, editable=False)

    # Not a field: the auth server's tokens of the login in progress, set by
    # accounts.backends.login_through_auth_server and moved into the Django session (server
    # side) by accounts.sessions when Django logs the user in.
    auth_server_tokens: dict[str, str] | None = None
    # Not a field: a staff identity whose token lacks the second factor the admin site
    # requires (accounts.staff.needs_step_up), set with the staff flags: it is offered the
    # step-up page instead of staff rights.
    step_up_needed: bool = False

    class Meta:
        db_table = "accounts_user"
