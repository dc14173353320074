"""Password lifecycle: forgotten password (e-mailed reset token), reset, change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth_server.accounts import normalize_email
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import InvalidResetToken, ValidationFailed
from auth_server.i18n import DEFAULT_LOCALE
from auth_server.models import PasswordReset, User
from auth_server.outbox import MailOutbox
from auth_server.passwords import Passwords, password_problems
from auth_server.ratelimit import clear_lock
from auth_server.sessions import Sessions
from auth_server.tokens import hash_opaque_token, new_opaque_token


@dataclass(frozen=True)
class ResetRequest:
    """A reset link was mailed (its token only in the mail; the database keeps its hash)."""

    user_id: uuid.UUID
    email: str


class PasswordRecovery:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        passwords: Passwords,
        sessions: Sessions,
        outbox: MailOutbox,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.passwords = passwords
        self.sessions = sessions
        self.outbox = outbox

    # -- forgot password ---------------------------------------------------------------

    def request_reset(
        self, db: Session, email: str, *, locale: str = DEFAULT_LOCALE
    ) -> ResetRequest | None:
        """A new reset token for an active account, its link mailed; None (after the same
        work) otherwise.

        Nothing is committed: the caller commits once, with its audit event, so that both
        outcomes cost one commit (and the link is mailed if and only if it commits).
        """
        # Made before the look-up so both outcomes do the same work (the mail included).
        token = new_opaque_token()
        token_hash = hash_opaque_token(token)
        mail = self.outbox.render(
            "password_reset",
            locale,
            link=self.reset_link(token),
            minutes=self.settings.password_reset_ttl // 60,
        )
        user = db.scalar(select(User).where(User.email == normalize_email(email)))
        if user is None or not user.is_active:
            return None
        now = self.clock.now()
        # A new request supersedes the older links: only the latest one works.
        self._cancel_links(db, user.id)
        db.add(
            PasswordReset(
                user_id=user.id,
                token_hash=token_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.password_reset_ttl),
            )
        )
        self.outbox.add(db, user.email, mail)
        return ResetRequest(user.id, user.email)

    def reset_link(self, token: str) -> str:
        url = self.settings.password_reset_url
        return url.replace("{token}", token) if "{token}" in url else f"{url}?token={token}"

    # -- reset and change ----------------------------------------------------------------

    def reset_password(
        self, db: Session, token: str, new_password: str, *, locale: str = DEFAULT_LOCALE
    ) -> User:
        """Sets the password of the token's user, spends the token, ends every session, and
        tells the owner by mail (one commit)."""
        now = self.clock.now()
        reset = db.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == hash_opaque_token(token))
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise InvalidResetToken()
        # Only the newest live link works: two concurrent requests may both have found no
        # live link to cancel, and each left one (see request_reset).
        if self._newer_link_exists(db, reset):
            raise InvalidResetToken()
        user = db.get(User, reset.user_id)
        if user is None or not user.is_active:
            raise InvalidResetToken()
        # Checked before spending the token, so a weak password can be corrected.
        self.check_policy(user, new_password, field="password")
        new_hash = self.passwords.hash(new_password)
        # Compare-and-set: of two concurrent uses of one token exactly one succeeds.
        spent = db.execute(
            update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if spent.rowcount == 0:  # type: ignore[attr-defined]
            db.rollback()
            raise InvalidResetToken()
        user.password_hash = new_hash
        # Spending one link ends the others: none of them may set the password again.
        self._cancel_links(db, user.id)
        # The owner of the mailbox proved who they are: a lock (perhaps set by an attacker
        # guessing) no longer stands between them and their new password.
        clear_lock(db, user.email)
        self._mail_password_changed(db, user, locale)
        # Whoever knew the old password (or holds a session) is logged out everywhere.
        # Last before the commit: it writes the revocation events (see revocations.py).
        self.sessions.revoke_all(db, user.id, reason="password_reset", commit=False)
        db.commit()
        return user

    def change_password(
        self,
        db: Session,
        user: User,
        current_password: str,
        new_password: str,
        keep_session: uuid.UUID,
        *,
        locale: str = DEFAULT_LOCALE,
    ) -> bool:
        """False when the current password is wrong; otherwise changes it, ends the user's
        other sessions (the caller's session stays) and tells the owner by mail."""
        if not self.passwords.verify(user.password_hash, current_password):
            return False
        self.check_policy(user, new_password, field="newPassword")
        user.password_hash = self.passwords.hash(new_password)
        # A reset link mailed before the change would otherwise undo it for up to an hour.
        self._cancel_links(db, user.id)
        self._mail_password_changed(db, user, locale)
        self.sessions.revoke_all(
            db, user.id, reason="password_changed", keep=keep_session, commit=False
        )
        db.commit()
        return True

    def _newer_link_exists(self, db: Session, reset: PasswordReset) -> bool:
        newer = select(PasswordReset.id).where(
            PasswordReset.user_id == reset.user_id,
            PasswordReset.id != reset.id,
            # Live ones only: a newer link that this one's request cancelled (its commit
            # came last) leaves this one the newest live link.
            PasswordReset.used_at.is_(None),
            # Ties (the same microsecond) go to neither: both links are refused.
            PasswordReset.created_at >= reset.created_at,
        )
        return db.scalar(newer.limit(1)) is not None

    def _cancel_links(self, db: Session, user_id: uuid.UUID) -> None:
        """Spends every outstanding reset link of the user (flushed; the caller commits)."""
        db.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
            .values(used_at=self.clock.now())
        )

    def check_policy(self, user: User, password: str, *, field: str) -> None:
        problems = password_problems(password, user.email)
        if problems:
            raise ValidationFailed(errors={field: problems})

    def _mail_password_changed(self, db: Session, user: User, locale: str) -> None:
        # To the account's address, so that its owner learns of a change they did not make.
        self.outbox.enqueue(
            db,
            to=user.email,
            template="password_changed",
            locale=locale,
        )
