"""The local user, keyed to the auth server's user id."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    # The auth server's user id: the only key users are matched by. Never the e-mail,
    # which can change and could then be taken by someone else.
    # Null for local-only accounts (staff created with createsuperuser).
    auth_user_id = models.UUIDField(unique=True, null=True, blank=True, editable=False)

    class Meta:
        db_table = "accounts_user"
