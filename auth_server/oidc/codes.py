"""Authorization codes: issued to a browser session, exchanged once for a session of its own.

A code is stored as its SHA-256 (it is a bearer credential until exchanged), lives
OIDC_CODE_TTL seconds, and is marked used, not deleted, when exchanged: a second exchange
is a replay (RFC 6749 4.1.2: the code leaked), which revokes the session the first one
made, with its revocation event, so resource servers drop its tokens too.

The exchange opens an ordinary session (sessions.py: refresh rotation, reuse detection,
the feed) whose parent is the browser session: revoking the browser session revokes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import AuthError
from auth_server.models import AuthSession
from auth_server.oidc.models import AuthorizationCode, OidcGrant
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo, Identity, IssuedTokens, Sessions, load_identity
from auth_server.tokens import hash_opaque_token


class CodeNotExchangeable(Exception):
    """The code's browser session ended, or a concurrent exchange won: invalid_grant."""


class Codes:
    def __init__(
        self,
        clock: Clock,
        sessions: Sessions,
        revocations: Revocations,
        audit: AuditLog,
        *,
        ttl: int,
    ) -> None:
        self.clock = clock
        self.sessions = sessions
        self.revocations = revocations
        self.audit = audit
        self.ttl = timedelta(seconds=ttl)

    def save(self, db: Session, code: str, request: Any) -> None:
        """Adds the code Authlib generated for `request.user` (a browser session)."""
        browser = request.user
        data = request.payload.data
        now = self.clock.database_now(db)
        db.add(
            AuthorizationCode(
                code_hash=hash_opaque_token(code),
                client_id=request.client.client_id,
                user_id=browser.user.id,
                browser_session_id=browser.session_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=browser.auth_time,
                amr=list(browser.amr),
                created_at=now,
                expires_at=now + self.ttl,
            )
        )

    def find(self, db: Session, code: str, client_id: str) -> AuthorizationCode | None:
        """The live, unused code of this client; a used one is a replay (module doc)."""
        row = db.get(AuthorizationCode, hash_opaque_token(code))
        if row is None or row.client_id != client_id:
            return None
        if row.used_at is not None:
            self._replayed(db, row)
            return None
        if row.expires_at <= self.clock.database_now(db):
            return None
        return row

    def _replayed(self, db: Session, row: AuthorizationCode) -> None:
        if row.session_id is not None:
            self.revocations.revoke_session(db, row.session_id, reason="code_reused")
        self.audit.add(
            db,
            "oidc_code_reused",
            outcome="failure",
            user_id=row.user_id,
            details={"client": row.client_id, "session": str(row.session_id)},
        )
        db.commit()

    def nonce_used(self, db: Session, client_id: str, nonce: str) -> bool:
        return bool(
            db.scalar(
                select(
                    exists().where(
                        AuthorizationCode.client_id == client_id,
                        AuthorizationCode.nonce == nonce,
                    )
                )
            )
        )

    def exchange(
        self, db: Session, row: AuthorizationCode, scope: str, client: ClientInfo
    ) -> IssuedTokens:
        """A session for the code's user, child of its browser session; flushed, the
        caller commits. CodeNotExchangeable when it cannot be had."""
        now = self.clock.database_now(db)
        browser = db.get(AuthSession, row.browser_session_id)
        # Signed out (or expired) between the code and its exchange: no tokens.
        if browser is None or browser.revoked_at is not None or browser.expires_at <= now:
            raise CodeNotExchangeable()
        # Compare-and-set: of two concurrent exchanges exactly one marks the code.
        spent = db.execute(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == row.code_hash,
                AuthorizationCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise CodeNotExchangeable()
        # With the cutoffs: the identity's claims go into the new session's token.
        user = load_identity(db, row.user_id, cutoffs=True)
        if user is None or not user.is_active:
            raise CodeNotExchangeable()
        # The browser session's credentials version: a password change or a disable since
        # then has ended it, and the new session would be refused (sessions.open).
        identity = Identity(user, browser.credentials_version, tuple(row.amr))
        try:
            issued = self.sessions.start(db, identity, client, parent_id=browser.id)
        except AuthError as exc:
            raise CodeNotExchangeable() from exc
        db.add(
            OidcGrant(
                session_id=issued.session_id,
                client_id=row.client_id,
                scope=scope,
                auth_time=row.auth_time,
                amr=list(row.amr),
            )
        )
        row.session_id = issued.session_id
        row.used_at = now
        return issued
