"""The local user of a verified token: found by the auth server's user id, never by e-mail;
and `LocalUsers`, the process's cache of them, so that a known user's new token costs no
query."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction

from rozitech_auth import tokens
from rozitech_auth.conf import client_settings
from rozitech_auth.tokens import VerifiedToken
from rozitech_auth.verification import ProcessStore


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


def erase_local_user(user_id: str) -> int:
    """Deletes the local user of an auth-server user that was erased, and what cascades from
    it (the service's rows that belong to the person); how many rows went. Idempotent: the
    feed repeats events, and the id of an erased user is never given again."""
    model: type[AbstractBaseUser] = get_user_model()
    id_field = client_settings().user_id_field
    deleted, _ = model._default_manager.filter(**{id_field: user_id}).delete()
    return deleted


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


def token_says(verified: VerifiedToken) -> tuple[Any, ...]:
    """What a token says that the local rows reflect: the user's fields (sync_user) and
    the organization, role and licenses (the token_verified receivers' mirror)."""
    licenses = (
        verified.licenses if verified.profile is not None else verified.claims.get("licenses")
    )
    return (verified.user_fields(), verified.organization, licenses)


@dataclass(frozen=True)
class SyncedUser:
    """A local user as synced from a token that said `says`, at `synced_at`."""

    user: AbstractBaseUser
    says: tuple[Any, ...]
    synced_at: float


class LocalUsers:
    """Synced local users by the auth server's id, in process.

    A known user's new token that says what the synced one said (token_says) reuses the
    entry for the authentication class's cache TTL from the sync: no read, no write, no
    token_verified signal (its receivers already mirrored exactly this). An entry goes when
    the row is saved or deleted in this process, when hybrid's feed names the user (a
    revocation, a membership change: `forget`), and after the TTL; so a change made
    elsewhere (another replica's admin site) is seen within the TTL, the bound a cached
    token's user already has. A sync that raced a `forget` is not stored (`generation`).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._store: ProcessStore[SyncedUser] = ProcessStore(max_entries)
        self._lock = threading.Lock()
        # Bumped by every forget: a sync that saw it change does not store what it read.
        self.generation = 0
        # The user id this thread is syncing (its own writes do not forget the entry).
        self._syncing = threading.local()

    def get(self, verified: VerifiedToken, ttl: float) -> SyncedUser | None:
        found = self._store.get(str(verified.user_id))
        if found is None or found.synced_at + ttl <= tokens.now():
            return None
        # Anything new in the token (an e-mail, a role, a license) is synced and announced.
        return found if found.says == token_says(verified) else None

    def sync(
        self, verified: VerifiedToken, ttl: float, sync: Callable[[], AbstractBaseUser]
    ) -> SyncedUser:
        """`sync()`'s user (read, written, announced), stored unless a `forget` came while
        it ran: then what it read may be outdated already. Its own writes do not count."""
        key, started = str(verified.user_id), tokens.now()
        generation = self.generation
        self._syncing.key = key
        try:
            user = sync()
        finally:
            self._syncing.key = None
        # Its age counts from before the read: never younger than what it holds.
        entry = SyncedUser(user, token_says(verified), started)
        with self._lock:
            if ttl > 0 and generation == self.generation:
                self._store.set(key, entry, ttl)
        return entry

    def saved(self, user_id: Any) -> None:
        """A local user saved or deleted in this process (post_save, post_delete)."""
        # Per thread: getattr, the attribute exists only where a sync set it.
        if user_id is not None and str(user_id).lower() == getattr(self._syncing, "key", None):
            return  # this thread's sync writing the row: the entry it makes has the write
        self.forget(user_id)

    def forget(self, user_id: Any) -> None:
        if user_id is None:
            return
        with self._lock:
            self.generation += 1
            self._store.delete(str(user_id).lower())

    def forget_event(self, event: Mapping[str, Any]) -> None:
        """The feed's events that name a user (revocations, membership changes)."""
        self.forget(event.get("sub"))
