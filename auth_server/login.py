"""The login flow, one use case for every door (JSON API, hosted pages, OIDC authorize).

Two steps, so that a second factor can sit between them:

- `identify`: who is this. Rate limit, the lockout reservation, the password check, the
  failure's audit rows and their commit; on success an `Identity` comes out, with its
  `amr`, its reservation still held.
- `issue_tokens` / `issue_browser_session`: a session for an identity, the reservation's
  refund and the `login` audit row, all in ONE commit.

The reservation is committed on its own before argon2 runs (see ratelimit.Lockout): that is
what keeps parallel guesses within the budget, so it cannot share the session's commit.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from auth_server.accounts import normalize_email, user_id_of
from auth_server.amr import AMR_PASSWORD
from auth_server.audit import AuditLog
from auth_server.errors import AccountDisabled, EmailNotVerified, InvalidCredentials, RateLimited
from auth_server.i18n import N_
from auth_server.models import User
from auth_server.passwords import Passwords
from auth_server.ratelimit import Lockout, RateLimits
from auth_server.sessions import ClientInfo, Identity, IssuedTokens, Sessions, load_identity
from auth_server.tokens import hash_opaque_token, new_opaque_token

# What the password check needs, by e-mail (built once, the address bound at execution).
_PASSWORD_OF = select(User.id, User.password_hash, User.credentials_version).where(
    User.email == bindparam("email")
)


class Login:
    def __init__(
        self,
        passwords: Passwords,
        sessions: Sessions,
        lockout: Lockout,
        limits: RateLimits,
        audit: AuditLog,
    ) -> None:
        self.passwords = passwords
        self.sessions = sessions
        self.lockout = lockout
        self.limits = limits
        self.audit = audit

    # -- who is this -------------------------------------------------------------------

    def identify(self, db: Session, email: str, password: str, client: ClientInfo) -> Identity:
        """The user behind an e-mail and password; every failure is audited and committed.

        InvalidCredentials (same answer for unknown e-mail and wrong password), RateLimited
        (the IP's budget, or the address locked), AccountDisabled, EmailNotVerified.
        """
        self.limits.hit_ip("login", client.ip_address)
        email = normalize_email(email)
        try:
            # Reserved before the password check and atomically (see ratelimit.Lockout): a
            # locked address gets 429 even for the right password, parallel guesses cannot
            # overrun the budget, and known and unknown addresses are locked alike.
            self.lockout.reserve(db, email)
        except RateLimited:
            self._failed(db, email, client, "locked", outcome="locked")
            raise
        try:
            identity = self._check_password(db, email, password)
        except InvalidCredentials:
            db.rollback()
            self._wrong_password(db, email, client)
            raise
        except (AccountDisabled, EmailNotVerified) as exc:
            db.rollback()
            # The password was right: its reservation is given back.
            self.lockout.refund(db, email)
            self._failed(db, email, client, exc.code)
            raise
        # The right password's reservation is given back by the step that issues the
        # session, in its transaction (see _logged_in).
        return identity

    def _check_password(self, db: Session, email: str, password: str) -> Identity:
        # Only what the check needs: known and unknown addresses cost the same one light
        # query up to the password check (loading the identity first made wrong passwords
        # ~4 ms slower, and an unknown address would load nothing).
        found = db.connection().execute(_PASSWORD_OF, {"email": email}).first()
        # Unknown e-mail and wrong password: one answer, one argon2 verification each.
        if not self.passwords.verify(found.password_hash if found else None, password):
            raise InvalidCredentials()
        assert found is not None
        # With the cutoffs: the identity's claims go into the login's token.
        user = load_identity(db, found.id, cutoffs=True)
        # Deleted while its password was being checked: as if it never existed.
        if user is None:
            raise InvalidCredentials()
        if not user.is_active:
            raise AccountDisabled()
        if not user.email_verified:
            raise EmailNotVerified()
        if self.passwords.needs_rehash(found.password_hash):
            user.password_hash = self.passwords.hash(password)
        # The version read with the password hash: the one the password was checked under.
        return Identity(
            user=user, credentials_version=found.credentials_version, amr=(AMR_PASSWORD,)
        )

    def _wrong_password(self, db: Session, email: str, client: ClientInfo) -> None:
        """The failure keeps its reservation; the one that fills the budget locks the
        address (RateLimited instead of InvalidCredentials). Committed with its audit rows."""
        locked = self.lockout.register_failure(db, email)
        user_id = user_id_of(db, email)
        self.audit.add(
            db,
            "login_failed",
            outcome="failure",
            client=client,
            email=email,
            user_id=user_id,
            details={"reason": "invalid_credentials"},
        )
        if locked:
            self.audit.add(
                db,
                "lockout",
                outcome="locked",
                client=client,
                email=email,
                user_id=user_id,
                details={"seconds": self.lockout.lockout_seconds},
            )
        db.commit()
        if locked:
            raise RateLimited(
                N_("Too many failed logins; try again later"),
                retry_after=self.lockout.lockout_seconds,
            )

    def _failed(
        self, db: Session, email: str, client: ClientInfo, reason: str, outcome: str = "failure"
    ) -> None:
        self.audit.record(
            db,
            "login_failed",
            outcome=outcome,
            client=client,
            email=email,
            user_id=user_id_of(db, email),
            details={"reason": reason},
        )

    # -- issue a session -----------------------------------------------------------------

    def issue_tokens(self, db: Session, identity: Identity, client: ClientInfo) -> IssuedTokens:
        """An API session (access and refresh token) for an identified user, committed."""
        issued = self.sessions.start(db, identity, client)
        self._logged_in(db, identity, issued.session_id, client)
        return issued

    def issue_browser_session(
        self,
        db: Session,
        identity: Identity,
        client: ClientInfo,
        ttl: int,
        *,
        replaces: uuid.UUID | None = None,
    ) -> tuple[uuid.UUID, str]:
        """A browser session for an identified user, committed: its id and the secret
        its cookie carries (only its hash is stored). `replaces`: the browser's previous
        session, ended in the same commit rather than left orphaned."""
        secret = new_opaque_token()
        session = self.sessions.open(
            db,
            identity,
            client,
            session_id=uuid.uuid4(),
            ttl=ttl,
            browser_hash=hash_opaque_token(secret),
        )
        if replaces is not None:
            self.sessions.revocations.revoke_session(db, replaces, reason="signed_in_again")
        self._logged_in(db, identity, session.id, client, via="browser")
        return session.id, secret

    def _logged_in(
        self,
        db: Session,
        identity: Identity,
        session_id: uuid.UUID,
        client: ClientInfo,
        via: str = "api",
    ) -> None:
        # The right password gives its reservation back. After the session row: the user
        # row is locked before the lockout row, in the order a password reset takes them
        # (the other order deadlocked logins racing a reset on PostgreSQL).
        self.lockout.refund(db, identity.user.email)
        self.audit.add(
            db,
            "login",
            client=client,
            email=identity.user.email,
            user_id=identity.user.id,
            details={"session": str(session_id), "via": via},
        )
        db.commit()  # the session, the refund, a rehash and the audit event together
