"""The login's second step: whether a login needs one, and checking the factor given."""

from __future__ import annotations

from sqlalchemy.orm import Session

from auth_server.amr import AMR_OTP
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import InvalidMfaToken
from auth_server.mfa.challenges import MfaChallenge, MfaChallenges, PendingLogin
from auth_server.mfa.factors import MfaFactors
from auth_server.mfa.recovery_codes import RecoveryCodes
from auth_server.mfa.totp import TotpFactors
from auth_server.models import TotpFactor
from auth_server.outbox import MailOutbox
from auth_server.sessions import ClientInfo, Identity


class MfaVerification:
    def __init__(
        self,
        clock: Clock,
        factors: MfaFactors,
        challenges: MfaChallenges,
        totp: TotpFactors,
        recovery_codes: RecoveryCodes,
        outbox: MailOutbox,
        audit: AuditLog,
    ) -> None:
        self.clock = clock
        self.factors = factors
        self.challenges = challenges
        self.totp = totp
        self.recovery_codes = recovery_codes
        self.outbox = outbox
        self.audit = audit

    def challenge(self, db: Session, identity: Identity, client: ClientInfo) -> MfaChallenge | None:
        """After the password: a challenge when the user has a factor (setup_required
        when only a policy demands one, which the user must first enrol), else None (the
        caller issues the session at once)."""
        if not self.factors.required(db, identity.user):
            return None
        enrolled = self.factors.any_enrolled(db, identity.user.id)
        return self.challenges.begin(db, identity, client, setup_required=not enrolled)

    def verify(
        self,
        db: Session,
        pending: PendingLogin,
        client: ClientInfo,
        locale: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> Identity:
        """The identity with "otp" in its amr when the code (or recovery code) is right;
        the challenge spent, not committed: the caller issues the session, which commits
        (the code's step, the spent recovery code and its mail go with it). A wrong one:
        MfaChallenges.failed (InvalidMfaCode or RateLimited)."""
        if pending.setup_required:
            # Nothing to verify yet: this login goes through enrolment (totp/confirm).
            raise InvalidMfaToken()
        user = pending.identity.user
        factor = db.get(TotpFactor, user.id)
        now = self.clock.now()
        right = False
        if factor is None or not factor.confirmed:
            pass  # no factor (reset meanwhile): every code is wrong
        elif code is not None:
            right = self.totp.accept(db, factor, code, now)
        else:
            # Recovery codes stand in for an enrolled app only (removed with it anyway).
            right = self.recovery_codes.use(db, user.id, recovery_code or "", now)
            if right:
                self._recovery_code_used(db, pending, client, locale)
        if not right:
            self.challenges.failed(db, pending, client)
        return self.challenges.passed(db, pending, AMR_OTP)

    def _recovery_code_used(
        self, db: Session, pending: PendingLogin, client: ClientInfo, locale: str
    ) -> None:
        user = pending.identity.user
        remaining = self.recovery_codes.remaining(db, user.id)
        # The user learns of every use: a stolen code used by someone else is noticed.
        self.outbox.enqueue(
            db, to=user.email, template="recovery_code_used", locale=locale, remaining=remaining
        )
        self.audit.add(
            db,
            "recovery_code_used",
            client=client,
            user_id=user.id,
            email=user.email,
            details={"remaining": remaining},
        )
