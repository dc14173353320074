"""Forgot, reset and change password as use cases: limits, lockout, the domain work
(recovery.py) and the audit rows. One flow for the JSON API and the hosted pages.

Mail is not sent here: the caller hands what comes back (a reset request, the address of a
changed password) to PasswordRecovery's senders after its answer.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from auth_server.accounts import normalize_email
from auth_server.audit import AuditLog, failures_audited
from auth_server.errors import RateLimited, WrongCurrentPassword
from auth_server.i18n import N_
from auth_server.models import User
from auth_server.ratelimit import Lockout, RateLimits
from auth_server.recovery import PasswordRecovery, ResetRequest
from auth_server.sessions import ClientInfo


class PasswordFlows:
    def __init__(
        self,
        recovery: PasswordRecovery,
        limits: RateLimits,
        lockout: Lockout,
        audit: AuditLog,
    ) -> None:
        self.recovery = recovery
        self.limits = limits
        self.lockout = lockout
        self.audit = audit

    def forgot(self, db: Session, email: str, client: ClientInfo) -> ResetRequest | None:
        """A reset link to mail, or None; the caller answers the same either way."""
        self.limits.hit_ip("forgot-password", client.ip_address)
        # Counted for unknown addresses too: the 429 says nothing about the account. Per
        # client address: a flood from elsewhere must never keep the owner from a link.
        self.limits.hit_client_account("forgot-password", client.ip_address, email)
        email = normalize_email(email)
        # Beyond the mail cap the answer stays the same, nothing is sent (no mail bombing,
        # and the cap says nothing about the account either).
        capped = not self.limits.reset_mail_allowed(client.ip_address, email)
        request = None if capped else self.recovery.request_reset(db, email)
        # One commit on both paths (the token and this event together): about the same time.
        self.audit.record(
            db,
            "password_reset_requested",
            outcome="capped" if capped else "success" if request else "no_account",
            client=client,
            email=email,
            user_id=request.user_id if request else None,
        )
        return request

    def reset(self, db: Session, token: str, password: str, client: ClientInfo) -> User:
        """The new password set, every session ended; the user to mail."""
        self.limits.hit_ip("reset-password", client.ip_address)
        with failures_audited(self.audit, db, "password_reset_completed", client=client):
            user = self.recovery.reset_password(db, token, password)
        self.audit.record(
            db, "password_reset_completed", client=client, email=user.email, user_id=user.id
        )
        return user

    def change(
        self,
        db: Session,
        user: User,
        current_password: str,
        new_password: str,
        client: ClientInfo,
        *,
        keep_session: uuid.UUID,
    ) -> None:
        """Changes a signed-in user's password; ends their other sessions (`keep_session`
        stays). WrongCurrentPassword, or RateLimited once the lockout's budget
        is spent, as for login."""
        email = user.email
        with failures_audited(
            self.audit, db, "password_changed", client=client, email=email, user_id=user.id
        ):
            # Before the reservation: a weak new password must not cost the user an attempt.
            self.recovery.check_policy(user, new_password, field="newPassword")
            # A stolen session must not allow unlimited guesses at the password: the same
            # per-account budget as login, reserved atomically before the check (see
            # ratelimit.Lockout).
            self.lockout.reserve(db, email)
            changed = self.recovery.change_password(
                db, user, current_password, new_password, keep_session=keep_session
            )
            if not changed:
                db.rollback()
                try:
                    self.lockout.fail(db, email)
                except RateLimited:
                    self.audit.record(
                        db,
                        "lockout",
                        outcome="locked",
                        client=client,
                        email=email,
                        user_id=user.id,
                        details={"seconds": self.lockout.lockout_seconds},
                    )
                    raise
                raise WrongCurrentPassword(errors={"currentPassword": [N_("Incorrect password")]})
        # The right current password gives its reservation back.
        self.lockout.refund(db, email)
        self.audit.record(db, "password_changed", client=client, email=email, user_id=user.id)
