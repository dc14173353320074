"""What signed-in users do to their own account: profile, sessions, logout everywhere.

Each use case owns its commit, the audit row included; the JSON API and the account page
call the same ones.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from auth_server.audit import AuditLog, failures_audited
from auth_server.errors import ValidationFailed
from auth_server.models import User
from auth_server.sessions import ClientInfo, Sessions

# The columns' lengths (models.User).
NAME_LENGTH = 100
PHONE_LENGTH = 32


class SelfService:
    def __init__(self, sessions: Sessions, audit: AuditLog) -> None:
        self.sessions = sessions
        self.audit = audit

    def sign_out(self, db: Session, user: User, session_id: uuid.UUID, client: ClientInfo) -> None:
        """Ends the browser session the user signs out of (sign-out of the hosted pages)."""
        self.sessions.revocations.revoke_session(db, session_id, reason="logout")
        self.audit.add(
            db,
            "logout",
            client=client,
            email=user.email,
            user_id=user.id,
            details={"session": str(session_id), "via": "browser"},
        )
        db.commit()  # the revocation, its feed event and the audit row together

    def logout_all(self, db: Session, user: User, client: ClientInfo) -> int:
        """Revokes every session of the user (browser ones too); how many were live."""
        count = self.sessions.revoke_all(db, user.id, reason="logout_all")
        self.audit.record(
            db,
            "logout_all",
            client=client,
            email=user.email,
            user_id=user.id,
            details={"sessions": count},
        )
        return count

    def revoke_session(
        self, db: Session, user: User, session_id: uuid.UUID, client: ClientInfo
    ) -> None:
        """Ends one of the user's own live sessions; SessionNotFound otherwise."""
        with failures_audited(
            self.audit, db, "session_revoked", client=client, email=user.email, user_id=user.id
        ):
            self.sessions.revoke_own_session(db, user.id, session_id)
        self.audit.record(
            db,
            "session_revoked",
            client=client,
            email=user.email,
            user_id=user.id,
            details={"session": str(session_id)},
        )

    def update_profile(
        self,
        db: Session,
        user: User,
        client: ClientInfo,
        *,
        first_name: str,
        last_name: str,
        phone: str | None,
    ) -> None:
        """Names and phone; ValidationFailed (per field) leaves everything as it was."""
        first_name, last_name = first_name.strip(), last_name.strip()
        phone = (phone or "").strip() or None
        errors: dict[str, list[str]] = {}
        for field, value in (("firstName", first_name), ("lastName", last_name)):
            if not value or len(value) > NAME_LENGTH:
                errors[field] = [f"Must be 1 to {NAME_LENGTH} characters"]
        if phone is not None and len(phone) > PHONE_LENGTH:
            errors["phone"] = [f"Must be at most {PHONE_LENGTH} characters"]
        if errors:
            raise ValidationFailed(errors=errors)
        changed = sorted(
            name
            for name, old, new in (
                ("firstName", user.first_name, first_name),
                ("lastName", user.last_name, last_name),
                ("phone", user.phone, phone),
            )
            if old != new
        )
        user.first_name, user.last_name, user.phone = first_name, last_name, phone
        # The field names only: the values are personal data, the log keeps who and when.
        self.audit.add(
            db,
            "profile_updated",
            outcome="success" if changed else "unchanged",
            client=client,
            email=user.email,
            user_id=user.id,
            details={"fields": changed},
        )
        db.commit()
