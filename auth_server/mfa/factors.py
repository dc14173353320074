"""What second factors a user has, and whether they must have one (organization policy)."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from auth_server.mfa import METHOD_RECOVERY_CODE, METHOD_TOTP, METHOD_WEBAUTHN
from auth_server.models import RecoveryCode, TotpFactor, User
from auth_server.passkeys.models import Passkey

# Built once, the user bound at execution (every password login runs it).
_ANY_ENROLLED = select(
    or_(
        exists().where(TotpFactor.user_id == bindparam("user_id"), TotpFactor.confirmed),
        exists().where(Passkey.user_id == bindparam("user_id")),
    )
)


class MfaFactors:
    def methods(self, db: Session, user_id: uuid.UUID) -> list[str]:
        """The second-factor methods the user can use now ("totp", "recovery_code",
        "webauthn")."""
        found: list[str] = []
        if db.scalar(select(exists().where(TotpFactor.user_id == user_id, TotpFactor.confirmed))):
            found.append(METHOD_TOTP)
            # Recovery codes only stand in for an enrolled factor, never on their own.
            if db.scalar(
                select(
                    exists().where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
                )
            ):
                found.append(METHOD_RECOVERY_CODE)
        if db.scalar(select(exists().where(Passkey.user_id == user_id))):
            found.append(METHOD_WEBAUTHN)
        return found

    def any_enrolled(self, db: Session, user_id: uuid.UUID) -> bool:
        """The user has a usable factor (an app or a passkey), asked in one statement:
        every password login asks it, and almost every answer is no."""
        return bool(db.connection().execute(_ANY_ENROLLED, {"user_id": user_id}).scalar())

    def policy_requires(self, user: User) -> bool:
        """An organization the user belongs to demands MFA of its members."""
        return any(m.organization.mfa_required for m in user.memberships)

    def required(self, db: Session, user: User) -> bool:
        """The login needs a second step: a factor is enrolled, or a policy demands one."""
        return self.policy_requires(user) or self.any_enrolled(db, user.id)
