"""The local user of a verified token: found by the auth server's user id, never by e-mail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction

from rozitech_auth.conf import client_settings
from rozitech_auth.tokens import VerifiedToken


def sync_user(verified: VerifiedToken) -> AbstractBaseUser:
    """Get or create the local user; update only the fields that changed (no write when
    nothing did). An e-mail change keeps the same local user: the key is the id."""
    # Any user model with a unique field for the auth server's id (AUTH_USER_ID_FIELD).
    model: type[AbstractBaseUser] = get_user_model()
    id_field = client_settings().user_id_field
    wanted = verified.user_fields()
    manager = model._default_manager
    user = manager.filter(**{id_field: verified.user_id}).first()
    if user is None:
        user = _create(model, id_field, verified, wanted)
        if user is not None:
            return user
        # Another request created it between our lookup and our insert.
        user = manager.get(**{id_field: verified.user_id})
    changed = [name for name, value in wanted.items() if getattr(user, name) != value]
    if changed:
        for name in changed:
            setattr(user, name, wanted[name])
        user.save(update_fields=changed)
    return user


def _create(
    model: type[AbstractBaseUser], id_field: str, verified: VerifiedToken, wanted: dict[str, Any]
) -> AbstractBaseUser | None:
    fields: dict[str, Any] = {id_field: verified.user_id, **wanted}
    username_field: str = getattr(model, "USERNAME_FIELD", "username")
    if username_field not in fields:
        # A stable, unique username that no e-mail change can collide with.
        fields[username_field] = str(verified.user_id)
    user = model(**fields)
    # Passwords live in the auth server only: this account can never log in locally.
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        return None
    return user
