"""Login sessions: opened for an identified user; refresh rotation with reuse detection; logout.

A session's whole refresh-token family lives in its one row, whatever the number of
refreshes: O(sessions) rows, found by primary key. A refresh token is
`<session id>.<family secret>.<secret>` (tokens.RefreshTokenParts); the row keeps the
SHA-256 of the family secret, of the current secret and of the previous one, the time the
previous one was rotated out, and a generation counter.

- The current secret rotates: the previous slot takes it, a new current is issued.
- The previous secret, within REFRESH_REUSE_GRACE of its rotation, is a retry (a client
  whose response was lost): the session is rotated again, to a new current. The successor
  the lost response carried is then stale: successors of one token are siblings and only
  the newest continues, so a session never forks into two live chains.
- Any other secret with the right family secret is a token this session issued before
  (only its holders know the family secret): reuse, which revokes the session. A wrong
  family secret is merely invalid, so knowing a session id (the `sid` of its access tokens)
  is not enough to end someone's session.

Every rotation is a compare-and-set in the database whose condition is the very check it
acts on (the secret is still current; still previous and inside the window), so of
concurrent refreshes each one either applies or sees the state that another left.

Sessions of the old scheme (before migration 0004) have their tokens in `refresh_tokens`:
such a token, unrotated, is accepted once and rotated into this scheme; the table is
never inserted into again, and only read for reuse detection until `purge` empties it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import NoReturn, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload, with_expression

from auth_server import metrics
from auth_server.amr import AMR_PASSWORD
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import (
    CredentialsChanged,
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenReused,
    SessionNotFound,
)
from auth_server.identity import IdentityReader, MembershipFacts, UserFacts, UserRow
from auth_server.memberships import M, Members, active_membership, membership_in, most_recent
from auth_server.models import AuthSession, Membership, Organization, RefreshToken, User
from auth_server.revocations import Revocations, token_cutoff
from auth_server.tokens import (
    AccessTokenClaims,
    AccessTokens,
    RefreshTokenParts,
    hash_opaque_token,
    is_legacy_refresh_token,
)

# What the contract's user/organization/licenses shapes need, joined to the user's row:
# one query (a user has few memberships, an organization few licenses). Three queries
# (selectin) cost twice the time on every login, refresh and /me.
_MEMBERSHIPS = joinedload(User.memberships)
_WITH_IDENTITY = _MEMBERSHIPS.joinedload(Membership.organization).joinedload(Organization.licenses)
# The same, with each membership's newest revocation cutoff (Membership.token_cutoff).
_WITH_CUTOFFS = (
    _WITH_IDENTITY,
    _MEMBERSHIPS.options(with_expression(Membership.token_cutoff, token_cutoff())),
)
# The hot paths' statements are built once, their values bound at execution: SQLAlchemy
# computes a statement's cache key (a walk of the whole statement and its options) once per
# statement object, and building it anew for each request cost more than running it.
_BY_ID = select(User).where(User.id == bindparam("user_id"))
_LOAD = _BY_ID.options(_WITH_IDENTITY)
# Read afresh even if this session loaded the rows before: no older claims with a newer cutoff.
_LOAD_FOR_TOKENS = _BY_ID.options(*_WITH_CUTOFFS).execution_options(populate_existing=True)
# The read-only paths: /me, and refresh (which issues a token, so with the cutoffs).
_READ = IdentityReader()
_READ_FOR_TOKENS = IdentityReader(cutoff=token_cutoff())

# A user as a caller reads it: ORM objects (load_identity) or Core rows (IdentityReader).
U = TypeVar("U", bound=UserFacts)

# What a refresh reads of its session row, and what an authenticated request checks of it.
_FAMILY = select(
    AuthSession.user_id,
    AuthSession.credentials_version,
    AuthSession.family_hash,
    AuthSession.refresh_hash,
    AuthSession.previous_refresh_hash,
    AuthSession.rotated_at,
    AuthSession.revoked_at,
    AuthSession.expires_at,
    AuthSession.organization_id,
    AuthSession.amr,
).where(AuthSession.id == bindparam("session_id"))
_LIVENESS = select(
    AuthSession.user_id,
    AuthSession.revoked_at,
    AuthSession.expires_at,
    AuthSession.credentials_version,
).where(AuthSession.id == bindparam("session_id"))

# A login's session is written only if the credentials version it was checked under is
# still the user's (Sessions.open); the no-op write takes the user row's lock.
_CREDENTIALS_UNCHANGED = (
    update(User)
    .where(User.id == bindparam("user_id"), User.credentials_version == bindparam("version"))
    .values(credentials_version=bindparam("version"))
)
_INSERT_SESSION = insert(AuthSession)

# A refresh's compare-and-set: the presented secret is still current (it becomes the
# previous one: the retry window opens), or still previous (a retry inside the window).
_LIVE_SESSION = AuthSession.id == bindparam("session_id"), AuthSession.revoked_at.is_(None)
_ROTATED = {
    "refresh_hash": bindparam("successor"),
    "generation": AuthSession.generation + 1,
    "last_used_at": bindparam("now"),
}
_ROTATE_CURRENT = (
    update(AuthSession)
    .where(*_LIVE_SESSION, AuthSession.refresh_hash == bindparam("secret"))
    .values(**_ROTATED, previous_refresh_hash=bindparam("secret"), rotated_at=bindparam("now"))
)
_ROTATE_RETRY = (
    update(AuthSession)
    .where(*_LIVE_SESSION, AuthSession.previous_refresh_hash == bindparam("secret"))
    .values(**_ROTATED)
)

# A session's `last_used_at` (the account page's "last used") moves at most this often: a
# page view then costs no write most of the time.
USED_AT_INTERVAL = timedelta(seconds=60)


def load_identity(db: Session, user_id: uuid.UUID, *, cutoffs: bool = False) -> User | None:
    """The user with their memberships, organizations and licenses, in one query.

    `cutoffs`: for issuing tokens, each membership's `token_cutoff` too, read by the same
    statement (one snapshot): claims read after a change come with its cutoff, claims read
    before it without (revocations.py, "The same second")."""
    found = db.execute(_LOAD_FOR_TOKENS if cutoffs else _LOAD, {"user_id": user_id})
    # unique(): the joined rows repeat the user once per membership and license.
    return found.unique().scalar_one_or_none()


@dataclass(frozen=True)
class ClientInfo:
    user_agent: str | None
    ip_address: str | None


@dataclass(frozen=True)
class Identity:
    """Who is signing in, as the credential check found them; not yet a session.

    `credentials_version` is the one the credentials were checked under: the session is
    only written if it is still current (see Sessions.open). `amr`: RFC 8176 values.
    """

    user: User
    credentials_version: int
    amr: tuple[str, ...]


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserFacts
    session_id: uuid.UUID
    # The session's active organization (its `org` claim); None: the user has none.
    membership: MembershipFacts | None


@dataclass(frozen=True)
class OpenedSession:
    """A session row just inserted: what its tokens need of it."""

    id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime


@dataclass(frozen=True)
class _Family:
    """The refresh-token state of a session row, as one statement read it."""

    user_id: uuid.UUID
    credentials_version: int
    family_hash: str | None
    refresh_hash: str | None
    previous_refresh_hash: str | None
    rotated_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime
    organization_id: uuid.UUID | None
    amr: str | None


def session_amr(stored: str | None) -> tuple[str, ...]:
    """A session row's `amr`; NULL on sessions older than revision 0008: password logins."""
    return tuple(stored.split()) if stored else (AMR_PASSWORD,)


def _same(stored: str | None, presented: str) -> bool:
    # Constant time: the comparison must not tell how much of a hash matched.
    return stored is not None and compare_digest(stored, presented)


class Sessions:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        tokens: AccessTokens,
        revocations: Revocations,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.tokens = tokens
        self.grace = timedelta(seconds=settings.refresh_reuse_grace)
        # Every revocation below goes through it: the sessions and their events, together.
        self.revocations = revocations

    def start(
        self,
        db: Session,
        identity: Identity,
        client: ClientInfo,
        *,
        parent_id: uuid.UUID | None = None,
    ) -> IssuedTokens:
        """A new API session and its tokens, flushed; the caller commits. `parent_id`: the
        browser session it is made from (OpenID Connect), which it then ends with."""
        token = RefreshTokenParts.new(uuid.uuid4())
        session = self.open(
            db,
            identity,
            client,
            session_id=token.session_id,
            ttl=self.settings.refresh_token_ttl,
            family_hash=token.family_hash,
            refresh_hash=token.secret_hash,
            parent_id=parent_id,
        )
        membership = membership_in(identity.user, session.organization_id)
        return self._issue(
            db, identity.user, session.id, token, session.created_at, membership, identity.amr
        )

    def open(
        self,
        db: Session,
        identity: Identity,
        client: ClientInfo,
        *,
        session_id: uuid.UUID,
        ttl: int,
        family_hash: str | None = None,
        refresh_hash: str | None = None,
        browser_hash: str | None = None,
        parent_id: uuid.UUID | None = None,
    ) -> OpenedSession:
        """The session row of an identified user (API or browser), inserted; the caller
        commits. CredentialsChanged when the user's credentials changed since the check."""
        user = identity.user
        version = identity.credentials_version
        # A password reset or change, a disable or a logout-all that committed while the
        # password was being checked must win: the session is only written if the version
        # is unchanged, by a write that waits for (PostgreSQL: the user row's lock) or
        # follows (SQLite: one writer) theirs. See revocations.py.
        unchanged = db.connection().execute(
            _CREDENTIALS_UNCHANGED, {"user_id": user.id, "version": version}
        )
        if unchanged.rowcount == 0:
            db.rollback()
            raise CredentialsChanged()
        now = self.clock.database_now(db)
        # A login starts in the organization the user last switched to.
        membership = most_recent(user)
        session = OpenedSession(
            session_id, membership.organization_id if membership else None, created_at=now
        )
        # A Core INSERT: nothing later in the request changes the row through the ORM, and
        # building the ORM object and flushing it cost more than the statement.
        db.connection().execute(
            _INSERT_SESSION,
            dict(
                id=session_id,
                user_id=user.id,
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(seconds=ttl),
                user_agent=(client.user_agent or "")[:300] or None,
                ip_address=client.ip_address,
                credentials_version=version,
                family_hash=family_hash,
                refresh_hash=refresh_hash,
                browser_hash=browser_hash,
                parent_id=parent_id,
                amr=" ".join(identity.amr),
                generation=0,
                organization_id=session.organization_id,
            ),
        )
        return session

    def refresh(self, db: Session, refresh_token: str) -> IssuedTokens:
        """The token rotated and a new one issued, flushed; the caller commits."""
        try:
            issued = self._rotate(db, refresh_token)
        except InvalidRefreshToken as exc:
            # Counted here, not from the audit log: routine refreshes are not audited.
            metrics.REFRESHES.labels(
                "reuse" if isinstance(exc, RefreshTokenReused) else "invalid"
            ).inc()
            raise
        metrics.REFRESHES.labels("success").inc()
        return issued

    def _rotate(self, db: Session, refresh_token: str) -> IssuedTokens:
        if is_legacy_refresh_token(refresh_token):
            return self._refresh_legacy(db, refresh_token)
        presented = RefreshTokenParts.parse(refresh_token)
        session_id = presented.session_id
        now = self.clock.database_now(db)
        # Two rounds at most: a compare-and-set fails only because a concurrent request
        # changed the row, and the second look then sees a state that decides.
        for _ in range(2):
            family = self._family(db, session_id)
            if family is None or not _same(family.family_hash, presented.family_hash):
                raise InvalidRefreshToken()
            user = self._live_user(db, family, now)
            secret = presented.secret_hash
            if _same(family.refresh_hash, secret):
                # The current token: it becomes the previous one (the retry window opens).
                rotation = _ROTATE_CURRENT
            elif _same(family.previous_refresh_hash, secret) and self._in_grace(family, now):
                # A retry of the previous token: rotated again, so the successor the lost
                # answer carried becomes stale (siblings never both continue).
                rotation = _ROTATE_RETRY
            else:
                self._reused(db, session_id)
            successor = RefreshTokenParts.new(session_id, presented.family)
            # Compare-and-set: the condition is the check above, made again by the database.
            rotated = db.connection().execute(
                rotation,
                {
                    "session_id": session_id,
                    "secret": secret,
                    "successor": successor.secret_hash,
                    "now": now,
                },
            )
            if rotated.rowcount == 1:
                membership = self._active(db, session_id, user, family.organization_id)
                # Refresh keeps the login's methods: a rotation proves nothing new.
                amr = session_amr(family.amr)
                return self._issue(db, user, session_id, successor, now, membership, amr)
            db.rollback()
        raise InvalidRefreshToken()

    def _family(self, db: Session, session_id: uuid.UUID) -> _Family | None:
        row = db.connection().execute(_FAMILY, {"session_id": session_id}).first()
        return _Family(**row._asdict()) if row is not None else None

    def _live_user(self, db: Session, family: _Family, now: datetime) -> UserRow:
        """The session's user, if the session and the user may still refresh."""
        if family.revoked_at is not None or family.expires_at <= now:
            raise InvalidRefreshToken()
        # Read-only: a refresh changes the session row, never the user's. With the
        # cutoffs: the token issued next may follow a change in the same second.
        user = _READ_FOR_TOKENS(db.connection(), family.user_id)
        if user is None or not _may_use(user, family.credentials_version):
            raise InvalidRefreshToken()
        return user

    def _in_grace(self, family: _Family, now: datetime) -> bool:
        return (
            bool(self.grace)
            and family.rotated_at is not None
            and (now - family.rotated_at <= self.grace)
        )

    def _reused(self, db: Session, session_id: uuid.UUID) -> NoReturn:
        # A stolen token was used (by the thief or the victim): end the session for both.
        db.rollback()
        self.revoke_session(db, session_id, reason="refresh_token_reuse")
        reused = RefreshTokenReused()
        reused.session_id = session_id
        raise reused

    def _refresh_legacy(self, db: Session, refresh_token: str) -> IssuedTokens:
        """A token of the old scheme: accepted once (or retried inside the grace window)
        and rotated into the session row, which then holds a new family."""
        row = db.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
        )
        if row is None:
            raise InvalidRefreshToken()
        session_id, token_id = row.session_id, row.id
        now = self.clock.database_now(db)
        family = self._family(db, session_id)
        if family is None:
            raise InvalidRefreshToken()
        user = self._live_user(db, family, now)
        # Compare-and-set on the old row: of concurrent uses exactly one rotates it.
        spent = db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if spent.rowcount == 0:  # type: ignore[attr-defined]
            rotated_at = db.scalar(
                select(RefreshToken.rotated_at).where(RefreshToken.id == token_id)
            )
            if not (self.grace and rotated_at is not None and now - rotated_at <= self.grace):
                self._reused(db, session_id)
        # A new family each time: a retry's new family makes the other successor invalid.
        successor = RefreshTokenParts.new(session_id)
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(
                family_hash=successor.family_hash,
                refresh_hash=successor.secret_hash,
                previous_refresh_hash=None,
                rotated_at=None,
                generation=AuthSession.generation + 1,
                last_used_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        membership = self._active(db, session_id, user, family.organization_id)
        amr = session_amr(family.amr)
        return self._issue(db, user, session_id, successor, now, membership, amr)

    def _active(
        self, db: Session, session_id: uuid.UUID, user: UserRow, stored: uuid.UUID | None
    ) -> MembershipFacts | None:
        """The session's organization, re-read from the user's memberships (role, names
        and licenses are always the database's); when the user left it, the most recently
        active remaining one, which the session row then remembers."""
        membership = active_membership(user, stored)
        chosen = membership.organization_id if membership else None
        if chosen != stored:
            self.set_organization(db, session_id, chosen)
        return membership

    def set_organization(
        self, db: Session, session_id: uuid.UUID, organization_id: uuid.UUID | None
    ) -> None:
        """The organization the session's next tokens speak for. The caller commits."""
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(organization_id=organization_id)
            .execution_options(synchronize_session=False)
        )

    def _issue(
        self,
        db: Session,
        user: UserFacts,
        session_id: uuid.UUID,
        refresh_token: RefreshTokenParts,
        now: datetime,
        membership: MembershipFacts | None,
        amr: tuple[str, ...],
    ) -> IssuedTokens:
        access_token = self.tokens.issue(
            user=user, session_id=session_id, membership=membership, now=now, amr=amr
        )
        # Not committed here: the caller commits with its audit event (when refreshes are
        # audited), in one transaction, so tokens and their audit row exist together.
        db.flush()
        return IssuedTokens(
            access_token=access_token,
            refresh_token=str(refresh_token),
            expires_in=self.tokens.ttl_seconds,
            user=user,
            session_id=session_id,
            membership=membership,
        )

    def touch(self, db: Session, session: AuthSession) -> None:
        """Marks a session used now, at most once per USED_AT_INTERVAL: a use inside the
        interval costs no statement at all, and concurrent uses write once (the condition
        is the throttle, checked again by the database). Commits when it wrote."""
        # Judged on this host's clock: inside the interval nothing is asked of the database
        # (PostgreSQL's clock is a query); seconds of skew do not matter against a minute.
        if session.last_used_at >= self.clock.now() - USED_AT_INTERVAL:
            return
        now = self.clock.database_now(db)
        threshold = now - USED_AT_INTERVAL
        touched = db.execute(
            update(AuthSession)
            .where(AuthSession.id == session.id, AuthSession.last_used_at < threshold)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        if touched.rowcount:  # type: ignore[attr-defined]
            db.commit()

    def logout(self, db: Session, refresh_token: str) -> uuid.UUID | None:
        """Idempotent: unknown or already revoked tokens are not an error.

        Returns the user whose session it was, if the token was known (for the audit log).
        """
        session_id = self._session_of(db, refresh_token)
        if session_id is None:
            return None
        user_id = db.scalar(select(AuthSession.user_id).where(AuthSession.id == session_id))
        if user_id is None:
            return None
        self.revoke_session(db, session_id, reason="logout")
        return user_id

    def _session_of(self, db: Session, refresh_token: str) -> uuid.UUID | None:
        """The session a refresh token of this session (any generation) belongs to."""
        if is_legacy_refresh_token(refresh_token):
            return db.scalar(
                select(RefreshToken.session_id).where(
                    RefreshToken.token_hash == hash_opaque_token(refresh_token)
                )
            )
        try:
            token = RefreshTokenParts.parse(refresh_token)
        except InvalidRefreshToken:
            return None
        family = db.scalar(
            select(AuthSession.family_hash).where(AuthSession.id == token.session_id)
        )
        # The family secret, not the session id alone (which every access token shows).
        return token.session_id if _same(family, token.family_hash) else None

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
                    AuthSession.expires_at > self.clock.database_now(db),
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

    def authenticate_claims(
        self, db: Session, access_token: str, *, cutoffs: bool = False
    ) -> tuple[User, AccessTokenClaims]:
        """As `authenticate`, with the token's claims (its session id, for one).
        `cutoffs`: the caller issues a token (load_identity)."""
        return self._authenticated(
            db, access_token, lambda user_id: load_identity(db, user_id, cutoffs=cutoffs)
        )

    def live_user(self, db: Session, session: AuthSession, *, cutoffs: bool = False) -> User | None:
        """The session's user with their identity loaded, while the session is live (not
        revoked, not expired) and its user active; None otherwise."""
        if not self._live(db, session.revoked_at, session.expires_at):
            return None
        user = load_identity(db, session.user_id, cutoffs=cutoffs)
        return user if user is not None and _may_use(user, session.credentials_version) else None

    def read_claims(self, db: Session, access_token: str) -> tuple[UserRow, AccessTokenClaims]:
        """As `authenticate_claims`, for a read-only request (GET /api/auth/me): the
        identity in Core rows, no ORM object built."""
        return self._authenticated(
            db, access_token, lambda user_id: _READ(db.connection(), user_id)
        )

    def _authenticated(
        self, db: Session, access_token: str, load: Callable[[uuid.UUID], U | None]
    ) -> tuple[U, AccessTokenClaims]:
        """The token's claims and its user as `load` reads them, while its session is live
        and the user may use it; InvalidToken otherwise."""
        claims = self.tokens.decode(access_token)
        session = db.connection().execute(_LIVENESS, {"session_id": claims.session_id}).first()
        # The signature alone is not enough: a logged-out or ended session's tokens stop here.
        if (
            session is None
            or session.user_id != claims.user_id
            or not self._live(db, session.revoked_at, session.expires_at)
        ):
            raise InvalidToken()
        user = load(session.user_id)
        if user is None or not _may_use(user, session.credentials_version):
            raise InvalidToken()
        return user, claims

    def _live(self, db: Session, revoked_at: datetime | None, expires_at: datetime) -> bool:
        """A session neither ended nor expired (by the database's clock)."""
        return revoked_at is None and expires_at > self.clock.database_now(db)

    def token_membership(self, user: Members[M], claims: AccessTokenClaims) -> M | None:
        """The membership the token speaks for (its `org`), as the database has it now:
        the current role; None when the user is no longer a member."""
        try:
            organization_id = uuid.UUID(str(claims.raw.get("org")))
        except ValueError:
            return None
        return membership_in(user, organization_id)


def _may_use(user: UserFacts, credentials_version: int) -> bool:
    """A session's user may still use it: active, and no revocation since the session was
    made (an older credentials version: made by a login that raced a revocation)."""
    return user.is_active and user.credentials_version == credentials_version
