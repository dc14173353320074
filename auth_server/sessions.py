"""Login sessions: password login, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from auth_server.accounts import normalize_email
from auth_server.config import Settings
from auth_server.errors import (
    AccountDisabled,
    EmailNotVerified,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenReused,
    SessionNotFound,
)
from auth_server.models import AuthSession, Membership, Organization, RefreshToken, User, utcnow
from auth_server.passwords import Passwords
from auth_server.presenters import primary_membership
from auth_server.revocations import Revocations
from auth_server.tokens import (
    AccessTokenClaims,
    AccessTokens,
    hash_opaque_token,
    new_opaque_token,
)

# Loads what the contract's user/organization/licenses shapes need, in two queries.
_IDENTITY = (
    selectinload(User.memberships)
    .selectinload(Membership.organization)
    .selectinload(Organization.licenses)
)


@dataclass(frozen=True)
class ClientInfo:
    user_agent: str | None
    ip_address: str | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    session_id: uuid.UUID


class Sessions:
    def __init__(
        self,
        settings: Settings,
        passwords: Passwords,
        tokens: AccessTokens,
        revocations: Revocations,
    ) -> None:
        self.settings = settings
        self.passwords = passwords
        self.tokens = tokens
        # Every revocation below goes through it: the sessions and their events, together.
        self.revocations = revocations

    def login(self, db: Session, email: str, password: str, client: ClientInfo) -> IssuedTokens:
        """A new session and its tokens, flushed; the caller commits."""
        # Without the identity: known and unknown addresses cost the same one query up to
        # the password check (loading it first made wrong passwords ~4 ms slower).
        user = db.scalar(select(User).where(User.email == normalize_email(email)))
        # Unknown e-mail and wrong password: one answer, one argon2 verification each.
        if not self.passwords.verify(user.password_hash if user else None, password):
            raise InvalidCredentials()
        assert user is not None
        user = db.scalar(
            select(User)
            .where(User.id == user.id)
            .options(_IDENTITY)
            .execution_options(populate_existing=True)
        )
        assert user is not None
        if not user.is_active:
            raise AccountDisabled()
        if not user.email_verified:
            raise EmailNotVerified()
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
        now = utcnow()
        session = AuthSession(
            id=uuid.uuid4(),
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl),
            user_agent=(client.user_agent or "")[:300] or None,
            ip_address=client.ip_address,
        )
        db.add(session)
        return self._issue(db, user, session, now)

    def refresh(self, db: Session, refresh_token: str) -> IssuedTokens:
        """The token rotated and a new one issued, flushed; the caller commits."""
        now = utcnow()
        row = db.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
        )
        if row is None:
            raise InvalidRefreshToken()
        session = db.get(AuthSession, row.session_id)
        if session is None or session.revoked_at is not None or session.expires_at <= now:
            raise InvalidRefreshToken()
        session_id, user_id = session.id, session.user_id
        # Compare-and-set: of concurrent refreshes of one token exactly one rotates it.
        rotated = db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if rotated.rowcount == 0:  # type: ignore[attr-defined]
            db.rollback()
            self._on_rotated_token_presented(db, row.id, session_id, now)
        user = db.scalar(select(User).where(User.id == user_id).options(_IDENTITY))
        if user is None or not user.is_active:
            db.rollback()
            raise InvalidRefreshToken()
        db.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_used_at=now))
        return self._issue(db, user, session, now)

    def _on_rotated_token_presented(
        self, db: Session, token_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> None:
        """A retry inside the grace window passes; any later reuse burns the whole family."""
        rotated_at = db.scalar(select(RefreshToken.rotated_at).where(RefreshToken.id == token_id))
        grace = timedelta(seconds=self.settings.refresh_reuse_grace)
        if rotated_at is not None and grace and now - rotated_at <= grace:
            return
        # A stolen token was used (by the thief or the victim): end the session for both.
        self.revoke_session(db, session_id, reason="refresh_token_reuse")
        reused = RefreshTokenReused()
        reused.session_id = session_id
        raise reused

    def _issue(self, db: Session, user: User, session: AuthSession, now: datetime) -> IssuedTokens:
        refresh_token = new_opaque_token()
        # Every child joins the same family: a session never forks.
        db.add(RefreshToken(session_id=session.id, token_hash=hash_opaque_token(refresh_token)))
        access_token = self.tokens.issue(
            user_id=user.id,
            session_id=session.id,
            email=user.email,
            email_verified=user.email_verified,
            membership=primary_membership(user),
            now=now,
        )
        # Not committed here: the caller commits with its audit event, in one transaction,
        # so issued tokens and their audit row exist together or not at all.
        db.flush()
        return IssuedTokens(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.tokens.ttl_seconds,
            user=user,
            session_id=session.id,
        )

    def logout(self, db: Session, refresh_token: str) -> uuid.UUID | None:
        """Idempotent: unknown or already revoked tokens are not an error.

        Returns the user whose session it was, if the token was known (for the audit log).
        """
        row = db.execute(
            select(RefreshToken.session_id, AuthSession.user_id)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
        ).first()
        if row is None:
            return None
        user_id: uuid.UUID = row.user_id
        self.revoke_session(db, row.session_id, reason="logout")
        return user_id

    def revoke_all(
        self,
        db: Session,
        user_id: uuid.UUID,
        *,
        reason: str,
        keep: uuid.UUID | None = None,
        commit: bool = True,
    ) -> int:
        """Revokes every live session of the user but `keep`; their access tokens stop too
        (here, and on verifiers through the revocation events written with them)."""
        count = self.revocations.revoke_user(db, user_id, reason=reason, keep=keep)
        if commit:
            db.commit()
        return count

    def active_sessions(self, db: Session, user_id: uuid.UUID) -> list[AuthSession]:
        return list(
            db.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == user_id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > utcnow(),
                )
                .order_by(AuthSession.last_used_at.desc())
            )
        )

    def revoke_own_session(self, db: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Revokes one of the user's own live sessions; SessionNotFound otherwise."""
        revoked = self.revocations.revoke_session(
            db, session_id, reason="revoked_by_user", owner=user_id
        )
        db.commit()
        if revoked is None:
            raise SessionNotFound()

    def revoke_session(self, db: Session, session_id: uuid.UUID, *, reason: str) -> None:
        self.revocations.revoke_session(db, session_id, reason=reason)
        db.commit()

    def authenticate(self, db: Session, access_token: str) -> User:
        """The user behind a valid access token whose session is still live."""
        return self.authenticate_claims(db, access_token)[0]

    def authenticate_claims(self, db: Session, access_token: str) -> tuple[User, AccessTokenClaims]:
        """As `authenticate`, with the token's claims (its session id, for one)."""
        claims = self.tokens.decode(access_token)
        session = db.get(AuthSession, claims.session_id)
        # The signature alone is not enough: a logged-out session's tokens stop here.
        if session is None or session.user_id != claims.user_id or session.revoked_at is not None:
            raise InvalidToken()
        user = db.scalar(select(User).where(User.id == claims.user_id).options(_IDENTITY))
        if user is None or not user.is_active:
            raise InvalidToken()
        return user, claims
