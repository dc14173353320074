"""A user's own second factors: set up and confirm TOTP, disable it, regenerate recovery
codes; and the administrator's reset. One flow for the JSON API and the hosted pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from auth_server.administration import ACTOR
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import (
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupNotStarted,
    RateLimited,
    UserNotFound,
    ValidationFailed,
    WrongCurrentPassword,
)
from auth_server.i18n import N_
from auth_server.mfa.factors import MfaFactors
from auth_server.mfa.recovery_codes import RecoveryCodes
from auth_server.mfa.totp import TotpEnrolment, TotpFactors
from auth_server.models import TotpFactor, User
from auth_server.outbox import MailOutbox
from auth_server.passkeys.service import delete_passkeys
from auth_server.passwords import Passwords
from auth_server.ratelimit import Lockout
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo


@dataclass(frozen=True)
class MfaStatus:
    totp_enabled: bool
    totp_confirmed_at: datetime | None
    recovery_codes_remaining: int
    methods: list[str]
    # An organization of the user demands MFA: disabling it means enrolling at next sign-in.
    required_by_organization: bool


@dataclass(frozen=True)
class Proof:
    """What a sensitive change is authorized with: the current password or a TOTP code."""

    password: str | None = None
    code: str | None = None


class MfaEnrolment:
    def __init__(
        self,
        clock: Clock,
        factors: MfaFactors,
        totp: TotpFactors,
        recovery_codes: RecoveryCodes,
        passwords: Passwords,
        lockout: Lockout,
        revocations: Revocations,
        outbox: MailOutbox,
        audit: AuditLog,
    ) -> None:
        self.clock = clock
        self.factors = factors
        self.totp = totp
        self.recovery_codes = recovery_codes
        self.passwords = passwords
        self.lockout = lockout
        self.revocations = revocations
        self.outbox = outbox
        self.audit = audit

    def status(self, db: Session, user: User) -> MfaStatus:
        factor = db.get(TotpFactor, user.id)
        confirmed = factor is not None and factor.confirmed
        return MfaStatus(
            totp_enabled=confirmed,
            totp_confirmed_at=factor.confirmed_at if factor and confirmed else None,
            recovery_codes_remaining=self.recovery_codes.remaining(db, user.id),
            methods=self.factors.methods(db, user.id),
            required_by_organization=self.factors.policy_requires(user),
        )

    def setup(self, db: Session, user: User, client: ClientInfo) -> TotpEnrolment:
        """A new secret for the user's authenticator app, committed unconfirmed: it counts
        only once `confirm` saw a code from it. MfaAlreadyEnabled if one is confirmed."""
        factor = db.get(TotpFactor, user.id)
        if factor is not None and factor.confirmed:
            raise MfaAlreadyEnabled()
        enrolment = self.totp.start(db, user.id, user.email, self.clock.database_now(db))
        self.audit.add(db, "mfa_setup_started", client=client, user_id=user.id, email=user.email)
        db.commit()
        return enrolment

    def confirm(self, db: Session, user: User, code: str, client: ClientInfo) -> list[str]:
        """The first code from the app confirms the factor; returns the ten recovery codes
        (shown once). Not committed: the caller commits (with a session, when this
        completes a login). InvalidMfaCode for a wrong code."""
        factor = db.get(TotpFactor, user.id)
        if factor is None:
            raise MfaSetupNotStarted()
        if factor.confirmed:
            raise MfaAlreadyEnabled()
        now = self.clock.database_now(db)
        if not self.totp.accept(db, factor, code, self.clock.now()):
            raise InvalidMfaCode()
        factor.confirmed = True
        factor.confirmed_at = now
        codes = self.recovery_codes.replace(db, user.id, now)
        self.audit.add(db, "mfa_enabled", client=client, user_id=user.id, email=user.email)
        return codes

    def disable(self, db: Session, user: User, proof: Proof, client: ClientInfo) -> None:
        """Removes the authenticator app and the recovery codes, committed; authorized by
        the current password or a current code (a stolen access token alone cannot)."""
        factor = db.get(TotpFactor, user.id)
        if factor is None or not factor.confirmed:
            raise MfaNotEnabled()
        self._authorize(db, user, factor, proof, client)
        self.totp.remove(db, user.id)
        self.recovery_codes.remove(db, user.id)
        self.audit.add(db, "mfa_disabled", client=client, user_id=user.id, email=user.email)
        db.commit()

    def regenerate(self, db: Session, user: User, proof: Proof, client: ClientInfo) -> list[str]:
        """Ten new recovery codes, committed; every older one stops working. Authorized
        like `disable`: the codes are a second factor themselves."""
        factor = db.get(TotpFactor, user.id)
        if factor is None or not factor.confirmed:
            raise MfaNotEnabled()
        self._authorize(db, user, factor, proof, client)
        codes = self.recovery_codes.replace(db, user.id, self.clock.database_now(db))
        self.audit.add(
            db, "recovery_codes_regenerated", client=client, user_id=user.id, email=user.email
        )
        db.commit()
        return codes

    def _authorize(
        self, db: Session, user: User, factor: TotpFactor, proof: Proof, client: ClientInfo
    ) -> None:
        """The password or the code is right; a wrong one counts toward the address'
        lockout like a wrong password (a stolen session gets no unlimited guesses)."""
        if not proof.password and not proof.code:
            raise ValidationFailed(
                errors={"password": [N_("Give your current password or a code from your app")]}
            )
        # Reserved before the check, atomically (see ratelimit.Lockout).
        self.lockout.reserve(db, user.email)
        if proof.password:
            right = self.passwords.verify(user.password_hash, proof.password)
        else:
            right = self.totp.accept(db, factor, proof.code or "", self.clock.now())
        if right:
            self.lockout.refund(db, user.email)
            return
        db.rollback()
        try:
            self.lockout.fail(db, user.email)
        except RateLimited:
            self.audit.record(
                db,
                "lockout",
                outcome="locked",
                client=client,
                email=user.email,
                user_id=user.id,
                details={"seconds": self.lockout.lockout_seconds},
            )
            raise
        if proof.password:
            raise WrongCurrentPassword(errors={"password": [N_("Incorrect password")]})
        raise InvalidMfaCode()

    def reset(self, db: Session, user_id: uuid.UUID, client: ClientInfo, locale: str) -> int:
        """The administrator's reset: every factor and recovery code removed, every session
        of the user revoked (whoever holds a session may be who took the factor over),
        the user mailed; committed. Returns the number of sessions revoked."""
        user = db.get(User, user_id)
        if user is None:
            raise UserNotFound()
        had_totp = self.totp.remove(db, user.id)
        self.recovery_codes.remove(db, user.id)
        passkeys = delete_passkeys(db, user.id)
        self.outbox.enqueue(db, to=user.email, template="mfa_reset", locale=locale)
        count = self.revocations.revoke_user(db, user.id, reason="mfa_reset")
        self.audit.add(
            db,
            "mfa_reset",
            client=client,
            email=user.email,
            user_id=user.id,
            details={**ACTOR, "totp": had_totp, "passkeys": passkeys, "sessions": count},
        )
        db.commit()
        return count
