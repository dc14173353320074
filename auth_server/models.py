"""SQLAlchemy models: the auth server's tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, query_expression, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by whatever must end every session (password reset or change, disable,
    # logout-all; see revocations.py); a session made under an older one is dead.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", order_by="Membership.created_at"
    )

    @property
    def full_name(self) -> str:
        """The `name` claim of access and ID tokens: given then family name."""
        return f"{self.first_name} {self.last_name}".strip()


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "Members must use MFA" (owners set it): a member without a factor enrols at sign-in.
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    licenses: Mapped[list[License]] = relationship(
        back_populates="organization", order_by="License.product_code"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))  # memberships.Role
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the user last switched to this organization: a login starts in the most recent.
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship()
    # Not a column: the newest revocation cutoff of this membership's tokens, read with it
    # by sessions.load_identity(cutoffs=True) (revocations.token_cutoff); None otherwise.
    token_cutoff: Mapped[int | None] = query_expression()


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (UniqueConstraint("organization_id", "product_code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    product_code: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Monotonic version so an older update never overwrites a newer one. 64-bit: a sender
    # may well use a timestamp in milliseconds or an outbox row id as its version.
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Most members the license allows; NULL: no limit (entitlements.seat_limit).
    seats: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="licenses")


class EmailVerification(Base):
    """The one live e-mail verification code of a user; a new code replaces it."""

    __tablename__ = "email_verifications"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Hashed like a password: six digits are too few to store under a fast hash.
    code_hash: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class AuthSession(Base):
    """A login session: one refresh-token family and the access tokens it issued.

    The family lives in this one row whatever the number of refreshes (see sessions.py):
    the hash of the family secret every token of the session carries, the hash of the
    current token's secret, the previous one's (a retry inside the grace window), and a
    generation counter.
    """

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_revoked", "user_id", "revoked_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    # The user's credentials_version when the session was made: an older one is refused.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # SHA-256 of the session's family secret, of the current and of the previous token
    # secret. NULL family: a session of the old scheme whose token is in refresh_tokens.
    family_hash: Mapped[str | None] = mapped_column(String(64))
    refresh_hash: Mapped[str | None] = mapped_column(String(64))
    previous_refresh_hash: Mapped[str | None] = mapped_column(String(64))
    # When the previous token was rotated out (database time): the grace window's start.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How the user proved who they are, space-separated RFC 8176 values ("pwd"); NULL on
    # sessions older than revision 0008, which were all password logins.
    amr: Mapped[str | None] = mapped_column(String(40))
    # SHA-256 of the secret of the browser (SSO) cookie that carries this session; NULL for
    # API sessions, which have a refresh-token family instead (see web/sso.py).
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    # The organization the session's access tokens speak for (switch-organization). No
    # foreign key: every issue checks it against the user's memberships and falls back.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The browser (SSO) session this one was made from (an OpenID Connect code grant):
    # revoking that session revokes this one too (revocations.py).
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[User] = relationship()


class RefreshToken(Base):
    """A refresh token of the old scheme (one row per token), stored only as its SHA-256.

    Read only since migration 0004: a live token found here is accepted once and rotated
    into the session row's scheme; `purge` empties the table with the sessions it belongs to.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the token is exchanged; a later presentation is a reuse.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[AuthSession] = relationship()


class PasswordReset(Base):
    """A single-use password reset token, stored only as its SHA-256."""

    __tablename__ = "password_resets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when the token is spent (or superseded by a newer request): it never works again.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginLock(Base):
    """The password attempts of an e-mail address (existing or not) and its lock.

    `failures` counts the attempts of the window ending at `window_ends` that were not
    refunded (reserved before the password is checked, see ratelimit.Lockout); the address
    is locked until `locked_until`.
    """

    __tablename__ = "login_locks"

    # SHA-256 of the normalized e-mail: unknown addresses are locked the same way.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    window_ends: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One security event. Never holds a password, a token or a code."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_user_created", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    # No foreign key: the trail outlives the account it describes.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The X-Request-ID of the request that wrote it (request_context): one request followed
    # across both services' logs and this trail.
    request_id: Mapped[str | None] = mapped_column(String(128), index=True)


class RevocationEvent(Base):
    """One revocation, for the feed that lets verifiers refuse revoked access tokens locally.

    A session (`session_id`: every access token of that session is dead), a user
    (`issued_before`: every access token of the user whose `iat` is below it is dead), a
    membership (`membership_changed`: the user's tokens for `organization_id` issued before
    `issued_before` are outdated) or an organization's licenses (`licenses_changed`: every
    token for `organization_id` issued before `issued_before` is outdated).
    `expires_at` is the latest `exp` a covered token can have; after it the event no
    longer matters and `purge` deletes it.
    """

    __tablename__ = "revocation_events"
    # AUTOINCREMENT on SQLite: ids are never reused, even after `purge` deleted the newest
    # rows, so a reader's cursor can never jump over a new event.
    __table_args__ = {"sqlite_autoincrement": True}

    # The feed's cursor: ids grow in commit order (see revocations.py for why).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # revocations.SESSION, USER, ...
    # No foreign keys: an event must outlive a purged session or a deleted user.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # NULL: licenses_changed
    # Indexed: every token issued reads its organization's newest cutoff (token_cutoff).
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # User events: access tokens of the user with `iat` < this (epoch seconds) are dead.
    issued_before: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OutboxMail(Base):
    """One e-mail to deliver, written in the transaction of the event that causes it
    (outbox.py); the bodies are blanked once it is sent or given up (they hold codes and
    links), the row is kept for MAIL_RETENTION_DAYS, then `purge` deletes it."""

    __tablename__ = "mail_outbox"
    # The delivery loop's query: pending mail that is due, oldest first.
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # "pending", "sent" or "failed"
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When it may next be tried; while a worker holds it, the end of that worker's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The claim of the worker trying it now (none between attempts).
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The failure's class and SMTP code only: never a server's text, which may echo data.
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invitation(Base):
    """An e-mailed, single-use invitation to join an organization, stored only as the
    SHA-256 of its token (256 bits: nothing to brute-force)."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # No foreign keys: the inviter or the invitee may be erased, the record stays.
    invited_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set once, by the acceptance or the withdrawal: the token never works again.
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()


class TotpFactor(Base):
    """A user's authenticator app (RFC 6238): at most one; unconfirmed until a first code."""

    __tablename__ = "mfa_totp_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Fernet-encrypted (MFA_ENCRYPTION_KEY): the server must read it back to check codes,
    # so it cannot be hashed; a database dump alone does not give the secrets away.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The time step of the last accepted code: that code and older ones are refused (replay).
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One single-use recovery code, stored only as its SHA-256 (80 random bits)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once, by a compare-and-set: the code never works again.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MfaChallengeRecord(Base):
    """The pending second step of a login (mfa/challenges.py): its token stored only as
    its SHA-256, bound to the user, the credentials version and the client address."""

    __tablename__ = "mfa_challenges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The version the password was checked under (sessions.Identity).
    credentials_version: Mapped[int] = mapped_column(Integer)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    # The user must enrol first (an organization's policy): the token authorizes setup.
    setup_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Wrong codes so far; the fifth ends the challenge.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set once (compare-and-set): the login completed; or it was ended by wrong codes.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
