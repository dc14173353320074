"""The pending second step of a login: after the password, before the session.

`Login.identify` finds who it is; `begin` stores a challenge (its token's SHA-256 only,
bound to the user, the credentials version and the client address) and hands the client
the token; `pending` finds it again; `failed` counts a wrong factor; `passed` spends it once,
and the caller then issues the session (`Login.issue_tokens` / `issue_browser_session`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth_server.amr import AMR_PASSWORD
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import InvalidMfaCode, InvalidMfaToken, RateLimited
from auth_server.i18n import N_
from auth_server.mfa.factors import MfaFactors
from auth_server.models import MfaChallengeRecord
from auth_server.ratelimit import Lockout
from auth_server.sessions import ClientInfo, Identity, load_identity
from auth_server.tokens import hash_opaque_token, new_opaque_token

# The numbers: five minutes to enter a code; the fifth wrong code ends the attempt.
CHALLENGE_TTL_SECONDS = 300
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class MfaChallenge:
    """What the client is told: the token (shown once), the methods, its lifetime."""

    token: str
    methods: list[str]
    setup_required: bool
    expires_in: int


@dataclass(frozen=True)
class PendingLogin:
    """A live challenge: who passed the password (amr ("pwd",)) and the challenge's row."""

    identity: Identity
    challenge_id: uuid.UUID
    setup_required: bool


class MfaChallenges:
    def __init__(
        self, clock: Clock, factors: MfaFactors, lockout: Lockout, audit: AuditLog
    ) -> None:
        self.clock = clock
        self.factors = factors
        self.lockout = lockout
        self.audit = audit

    def begin(
        self, db: Session, identity: Identity, client: ClientInfo, *, setup_required: bool = False
    ) -> MfaChallenge:
        """A challenge for an identified user, committed with the refund of the password's
        lockout reservation (the password was right; from here each wrong code counts)."""
        token = new_opaque_token()
        now = self.clock.database_now(db)
        db.add(
            MfaChallengeRecord(
                id=uuid.uuid4(),
                # Only the hash is stored: a database read gives no usable token.
                token_hash=hash_opaque_token(token),
                user_id=identity.user.id,
                credentials_version=identity.credentials_version,
                ip_address=client.ip_address,
                setup_required=setup_required,
                attempts=0,
                created_at=now,
                expires_at=now + timedelta(seconds=CHALLENGE_TTL_SECONDS),
            )
        )
        methods = [] if setup_required else self.factors.methods(db, identity.user.id)
        self.audit.add(
            db,
            "mfa_challenge",
            client=client,
            user_id=identity.user.id,
            email=identity.user.email,
            details={"setup_required": setup_required},
        )
        self.lockout.refund(db, identity.user.email)
        db.commit()
        return MfaChallenge(token, methods, setup_required, CHALLENGE_TTL_SECONDS)

    def pending(self, db: Session, token: str, client: ClientInfo) -> PendingLogin:
        """The live challenge of `token`; InvalidMfaToken when unknown, expired, used,
        ended, from another client address, or the user's credentials changed since."""
        row = db.scalar(
            select(MfaChallengeRecord).where(
                MfaChallengeRecord.token_hash == hash_opaque_token(token)
            )
        )
        now = self.clock.database_now(db)
        if (
            row is None
            or row.used_at is not None
            or row.ended_at is not None
            or row.expires_at <= now
            # Bound to the address that passed the password: a stolen token is useless
            # elsewhere.
            or row.ip_address != client.ip_address
        ):
            raise InvalidMfaToken()
        # With the cutoffs: the identity's claims go into the login's token.
        user = load_identity(db, row.user_id, cutoffs=True)
        # A reset, disable or logout-all since the password was checked ends the attempt.
        if (
            user is None
            or not user.is_active
            or user.credentials_version != row.credentials_version
        ):
            raise InvalidMfaToken()
        identity = Identity(
            user=user, credentials_version=row.credentials_version, amr=(AMR_PASSWORD,)
        )
        return PendingLogin(identity, row.id, row.setup_required)

    def failed(self, db: Session, pending: PendingLogin, client: ClientInfo) -> NoReturn:
        """A wrong factor: counted on the challenge (the fifth ends it) and toward the
        address' lockout, like a wrong password; committed. InvalidMfaCode, or
        RateLimited when the address is (now) locked."""
        db.rollback()
        user = pending.identity.user
        attempts = db.scalar(
            update(MfaChallengeRecord)
            .where(MfaChallengeRecord.id == pending.challenge_id)
            .values(attempts=MfaChallengeRecord.attempts + 1)
            .returning(MfaChallengeRecord.attempts)
        )
        db.commit()
        locked: RateLimited | None = None
        try:
            # Counted like a password guess (reserve, then keep it): codes cannot be
            # guessed faster than passwords, and both fill the same budget.
            self.lockout.reserve(db, user.email)
            if self.lockout.register_failure(db, user.email):
                locked = RateLimited(
                    N_("Too many failed logins; try again later"),
                    retry_after=self.lockout.lockout_seconds,
                )
                self.audit.add(
                    db,
                    "lockout",
                    outcome="locked",
                    client=client,
                    email=user.email,
                    user_id=user.id,
                    details={"seconds": self.lockout.lockout_seconds},
                )
        except RateLimited as exc:
            locked = exc  # already locked (its own Retry-After): nothing more counted
        ended = locked is not None or (attempts or MAX_ATTEMPTS) >= MAX_ATTEMPTS
        if ended:
            db.execute(
                update(MfaChallengeRecord)
                .where(MfaChallengeRecord.id == pending.challenge_id)
                .values(ended_at=self.clock.database_now(db))
            )
        self.audit.add(
            db,
            "mfa_failed",
            outcome="failure" if locked is None else "locked",
            client=client,
            user_id=user.id,
            email=user.email,
            details={"attempts": attempts, "ended": ended},
        )
        db.commit()
        if locked is not None:
            raise locked
        raise InvalidMfaCode()

    def passed(self, db: Session, pending: PendingLogin, method_amr: str) -> Identity:
        """Spends the challenge (compare-and-set: once, even under races) and returns the
        identity with `method_amr` added. Not committed: issuing the session commits."""
        now = self.clock.database_now(db)
        spent = db.execute(
            update(MfaChallengeRecord)
            .where(
                MfaChallengeRecord.id == pending.challenge_id,
                MfaChallengeRecord.used_at.is_(None),
                MfaChallengeRecord.ended_at.is_(None),
                MfaChallengeRecord.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            raise InvalidMfaToken()
        identity = pending.identity
        amr = identity.amr if method_amr in identity.amr else (*identity.amr, method_amr)
        return Identity(identity.user, identity.credentials_version, amr)
