"""Erasure of a user (GDPR art. 17): the account and its personal data go, the trail stays.

What goes: the user row and, by ON DELETE CASCADE, its memberships, sessions with their
refresh tokens, pending verification code and reset links; the login lock of the address;
every mail to the address in the outbox, sent or not (a code or link for an erased account
is of no use to anyone);
and in the audit log, every e-mail address, IP address and user agent of the user's events
(and of events that name the address without an account id: failed sign-ups, logins).
What stays: audit events keyed by the user id alone (what happened, when, with what
outcome), and the revocation events that stop the user's access tokens on every verifier
until they expire. The user's organization stays: it is the company's, not the person's,
and the SaaS Admin's subscriptions refer to it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from auth_server.audit import AuditLog
from auth_server.errors import UserNotFound
from auth_server.models import AuditEvent, OutboxMail, User
from auth_server.ratelimit import clear_lock
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo


class Erasure:
    def __init__(self, revocations: Revocations, audit: AuditLog) -> None:
        self.revocations = revocations
        self.audit = audit

    def erase(
        self,
        db: Session,
        user_id: uuid.UUID,
        *,
        reason: str,
        client: ClientInfo | None = None,
        details: dict[str, str] | None = None,
    ) -> int:
        """Erases the user and commits, with a `user_deleted` event that holds the user id
        only (and who asked: `client` is a service's, never the user's own address).
        Returns how many live sessions were revoked; UserNotFound when there is no user."""
        user = db.get(User, user_id)
        if user is None:
            raise UserNotFound()
        email = user.email
        db.execute(
            update(AuditEvent)
            .where(or_(AuditEvent.user_id == user_id, AuditEvent.email == email))
            .values(email=None, ip_address=None, user_agent=None)
        )
        clear_lock(db, email)
        db.execute(delete(OutboxMail).where(OutboxMail.recipient == email))
        self.audit.add(
            db, "user_deleted", client=client, user_id=user_id, details={**(details or {})}
        )
        # Every session's tokens stop on every verifier through the feed (session events
        # and a user event); the rows themselves then go with the user.
        count = self.revocations.revoke_user(db, user_id, reason=reason)
        # After the revocation (which must see the sessions): only this delete follows it
        # before the commit, so the feed's write lock is held about as briefly as ever.
        db.expunge(user)
        db.execute(delete(User).where(User.id == user_id))
        db.commit()
        return count
