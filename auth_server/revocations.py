"""Revocations: the one place that revokes sessions, and the events that tell verifiers.

Every revocation (logout, logout-all, session revoke, refresh-token reuse, password reset
or change, a disabled user) goes through `Revocations.revoke_session` or
`Revocations.revoke_user`: they mark the sessions revoked AND write the revocation events
in the caller's transaction, so one cannot commit without the other.

Cursor order. Events are read by `id > cursor`, so an event must never become visible
after a reader has already seen a higher id. On PostgreSQL two transactions could take ids
5 and 6 and commit 6 first; a reader would then move its cursor past 5 for ever. So every
writer takes a transaction-level advisory lock just before it inserts its events and holds
it until its commit: ids are drawn, and made visible, one transaction at a time, in commit
order. The lock is taken last in the transaction (only inserts follow it), so it is held
for one commit's time and no reader ever waits for it. (This relies on the id sequence's
default CACHE 1: with per-connection cached ranges a later insert could draw a lower id.)
SQLite needs nothing: it already has one writer at a time, holding the write lock from its
first write until commit.
(Rejected: a "settle window" that hides the newest seconds of events delays every
revocation and is still wrong for a transaction slower than the window; reading up to the
oldest running transaction id is exact but lets any long transaction stall the feed.)

Lifetime. An event is kept (in the feed, and by `purge`) until every access token it covers
could no longer verify anywhere: the latest `exp` of such a token (the revocation's time +
ACCESS_TOKEN_TTL) plus REVOCATION_RETENTION_MARGIN, which covers the verifiers' `exp`
leeway and the skew between clocks, as retired signing keys are kept past their tokens.
Times are the database's (clock.py): `issuedBefore` is compared with the `iat` of tokens
that other replicas issue, from the same clock.

Credentials version. `revoke_user` also bumps the user's `credentials_version`, in the same
transaction: a login that checked the password before this revocation cannot commit a
session after it (sessions.py checks the version with its insert), and a session holding an
older version is refused at refresh and /me.

Membership and license changes. A role change, a removal or a departure writes a
`membership_changed` event (that user's tokens for that organization issued before it are
outdated), a license change a `licenses_changed` event (every token for that organization).
They are written by the same `_write`, so in the changing transaction, last before its
commit, and they keep the cursor order above. A verifier refuses an outdated token as a
revoked one; the client refreshes and gets the new claims (refresh re-reads them).

The same second. `iat` has whole seconds, and a token issued in the second of a change may
carry the old claims (read before the change committed) or the new ones (read after). So
these events' cutoff is strict: the second after the change (its `issuedBefore` is that
second + 1, taken from the database's clock under the lock, just before the commit), and
every token issued before it (with `iat` up to the change's second) is outdated. A token
issued after the commit carries `iat` = max(now's second, the newest cutoff of its
organization's events) (`token_cutoff`, read in the one statement that loads the claims):
at most one second ahead of now, within every verifier's `iat` skew, and never outdated
by a change whose claims it already has. A token whose claims were read before the commit
did not see the cutoff either, so its `iat` is its own second, below the cutoff.

After the commit each event is also published on Redis (REVOCATION_CHANNEL) when
REDIS_URL is set; the feed stays the source of truth and a failed publish is only logged.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.models import AuthSession, Membership, RevocationEvent, User
from auth_server.presenters import iso

logger = logging.getLogger("auth_server.revocations")

# pg_advisory_xact_lock key that serializes the writers of revocation events
# (an arbitrary constant: "revocation" in ASCII hex, 0x7265766f63).
ADVISORY_LOCK_KEY = 0x7265766F63
_PENDING = "revocation_events_to_publish"
# PostgreSQL NOTIFY channel of every transaction that writes revocation events: it wakes the
# waiting feed readers of every auth-server process (revocation_notify.py) on commit only.
NOTIFY_CHANNEL = "auth_revocations"

SESSION = "session"
USER = "user"
MEMBERSHIP_CHANGED = "membership_changed"
LICENSES_CHANGED = "licenses_changed"
# The events that outdate claims (role, licenses) rather than end sessions: strict cutoffs.
OUTDATING = frozenset({MEMBERSHIP_CHANGED, LICENSES_CHANGED})


def token_cutoff() -> ColumnElement[int | None]:
    """The newest `issuedBefore` of the events that outdate a membership's tokens (its own
    `membership_changed`, its organization's `licenses_changed`), correlated to the
    `memberships` row it is loaded with: a token of that membership is issued no earlier
    (module doc, "The same second"). One index lookup (`organization_id`)."""
    return (
        select(func.max(RevocationEvent.issued_before))
        .where(
            RevocationEvent.organization_id == Membership.organization_id,
            or_(
                RevocationEvent.kind == LICENSES_CHANGED,
                and_(
                    RevocationEvent.kind == MEMBERSHIP_CHANGED,
                    RevocationEvent.user_id == Membership.user_id,
                ),
            ),
        )
        .scalar_subquery()
    )


def event_json(event: RevocationEvent) -> dict[str, Any]:
    """The wire shape of one event, in the feed and on the Redis channel."""
    return {
        "cursor": str(event.id),
        "type": event.kind,
        "sub": str(event.user_id) if event.user_id else None,
        "org": str(event.organization_id) if event.organization_id else None,
        "sid": str(event.session_id) if event.session_id else None,
        "issuedBefore": event.issued_before,
        "reason": event.reason,
        "revokedAt": iso(event.created_at),
        "expiresAt": iso(event.expires_at),
    }


class RevocationPublisher:
    """Publishes committed events on Redis; never raises (the feed is the source of truth)."""

    def __init__(self, settings: Settings) -> None:
        self.channel = settings.revocation_channel_name
        self._redis: redis.Redis | None = None
        if settings.redis_url:
            # Short timeouts, as for the rate-limit counters: a hung Redis must not hold a
            # logout for long; the event is in the feed whatever happens here.
            self._redis = redis.Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=settings.redis_socket_timeout,
                socket_timeout=settings.redis_socket_timeout,
                # No retries: redis-py's default would multiply the timeout by them.
                retry=Retry(NoBackoff(), 0),
            )

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    def publish(self, events: list[dict[str, Any]]) -> None:
        if self._redis is None:
            return
        for payload in events:
            try:
                self._redis.publish(self.channel, json.dumps(payload, separators=(",", ":")))
            except redis.RedisError as exc:
                logger.warning(
                    "Revocation event %s not published on Redis (%s); it is in the feed",
                    payload["cursor"],
                    exc,
                )

    def reachable(self) -> bool | None:
        """Whether Redis answers a PING (readiness); None without Redis."""
        if self._redis is None:
            return None
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


@dataclass(frozen=True)
class FeedPage:
    events: list[RevocationEvent]
    cursor: int
    has_more: bool


class Revocations:
    def __init__(self, settings: Settings, clock: Clock, publisher: RevocationPublisher) -> None:
        self.clock = clock
        self.publisher = publisher
        # How long an event must last: its tokens' lifetime, plus the margin (module doc).
        self.event_lifetime = timedelta(
            seconds=settings.access_token_ttl + settings.revocation_retention_margin
        )
        self.page_size = settings.revocation_page_size
        # Called after a commit that wrote events (the waiting feed's wake-up).
        self.committed_hooks: list[Callable[[], None]] = []

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Publishes the events of a transaction once it has committed (never before: a
        rolled-back revocation must not reach anyone)."""
        sa_event.listen(factory, "after_commit", self._after_commit)
        sa_event.listen(factory, "after_rollback", self._after_rollback)

    def _after_commit(self, db: Session) -> None:
        pending = db.info.pop(_PENDING, None)
        if pending:
            for hook in self.committed_hooks:
                hook()
            self.publisher.publish(pending)

    def _after_rollback(self, db: Session) -> None:
        db.info.pop(_PENDING, None)

    # -- revoking ------------------------------------------------------------------------

    def revoke_session(
        self,
        db: Session,
        session_id: uuid.UUID,
        *,
        reason: str,
        owner: uuid.UUID | None = None,
    ) -> uuid.UUID | None:
        """Revokes one live session (of `owner`, when given) and its children, with events.

        Returns the session's user, or None when there was no such live session (nothing
        written). Does not commit; call it last before the commit (see the module doc).
        """
        query = update(AuthSession).where(
            AuthSession.id == session_id, AuthSession.revoked_at.is_(None)
        )
        if owner is not None:
            # Only the owner: another user's session id is "not found", never revoked.
            query = query.where(AuthSession.user_id == owner)
        now = self.clock.database_now(db)
        # RETURNING: the rows this statement revoked, atomically; a session that a
        # concurrent request revoked first is not revoked (nor announced) twice.
        rows = db.execute(
            query.values(revoked_at=now, revoke_reason=reason).returning(
                AuthSession.id, AuthSession.user_id
            )
        ).all()
        if not rows:
            return None
        user_id: uuid.UUID = rows[0].user_id
        # Sessions made from this one (OpenID Connect code grants of a browser session)
        # end with it: signing out of the browser signs out of every product it opened.
        children = db.scalars(
            update(AuthSession)
            .where(AuthSession.parent_id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
            .returning(AuthSession.id)
        ).all()
        revoked = [session_id, *sorted(children)]
        self._write(
            db,
            [self._event(SESSION, reason, now, user_id=user_id, session_id=sid) for sid in revoked],
        )
        return user_id

    def revoke_user(
        self,
        db: Session,
        user_id: uuid.UUID,
        *,
        reason: str,
        keep: uuid.UUID | None = None,
        user_event: bool = True,
    ) -> int:
        """Revokes every live session of the user but `keep`; returns how many.

        Writes one session event per revoked session and, unless a session is kept or
        `user_event` is False, one user event ("tokens issued before now are dead") that
        also covers sessions this statement could not see (a login committing at the same
        moment). The session events are not redundant: a token's `iat` has whole seconds,
        so tokens issued earlier in the current second escape the user event's cutoff.
        Does not commit; call it last before the commit (see the module doc).
        """
        now = self.clock.database_now(db)
        # First, so that a login of this user waits for (PostgreSQL: the row lock) or sees
        # (SQLite: one writer) this transaction before it commits a session (module doc).
        version = db.scalar(
            update(User)
            .where(User.id == user_id)
            .values(credentials_version=User.credentials_version + 1)
            .returning(User.credentials_version)
        )
        query = update(AuthSession).where(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(AuthSession.id != keep)
            # The kept session (a password change's own) lives on under the new version.
            db.execute(
                update(AuthSession)
                .where(AuthSession.id == keep)
                .values(credentials_version=version)
            )
        revoked = db.scalars(
            query.values(revoked_at=now, revoke_reason=reason).returning(AuthSession.id)
        ).all()
        events = [
            self._event(SESSION, reason, now, user_id=user_id, session_id=sid)
            for sid in sorted(revoked)
        ]
        if keep is None and user_event:
            events.append(
                self._event(
                    USER,
                    reason,
                    now,
                    user_id=user_id,
                    # Strictly below the current second: a login right after this one (in
                    # the same second) must get a working token.
                    issued_before=math.floor(now.timestamp()),
                )
            )
        self._write(db, events)
        return len(revoked)

    def membership_changed(
        self, db: Session, user_id: uuid.UUID, organization_id: uuid.UUID, *, reason: str
    ) -> None:
        """The user's access tokens for the organization issued up to now are outdated
        (`reason`: role_changed, removed, left); the cutoff is set by `_write`. Does not
        commit; call it last."""
        now = self.clock.database_now(db)
        event = self._event(
            MEMBERSHIP_CHANGED, reason, now, user_id=user_id, organization_id=organization_id
        )
        self._write(db, [event])

    def licenses_changed(self, db: Session, organization_id: uuid.UUID) -> None:
        """Every access token for the organization issued up to now is outdated (its
        `licenses` claim may be wrong); the cutoff is set by `_write`. Does not commit;
        call it last."""
        now = self.clock.database_now(db)
        event = self._event(
            LICENSES_CHANGED, "licenses_changed", now, organization_id=organization_id
        )
        self._write(db, [event])

    def _event(
        self,
        kind: str,
        reason: str,
        now: datetime,
        *,
        user_id: uuid.UUID | None = None,
        organization_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        issued_before: int | None = None,
    ) -> RevocationEvent:
        """One event of any kind, kept until the latest `exp` of a token it covers (one
        issued up to now) plus the margin (module doc)."""
        return RevocationEvent(
            kind=kind,
            user_id=user_id,
            organization_id=organization_id,
            session_id=session_id,
            issued_before=issued_before,
            reason=reason,
            created_at=now,
            expires_at=now + self.event_lifetime,
        )

    def _write(self, db: Session, events: list[RevocationEvent]) -> None:
        if not events:
            return
        # Everything the caller changed so far is written before the lock is taken, so the
        # lock is held only for the inserts below and the commit.
        db.flush()
        if db.get_bind().dialect.name == "postgresql":
            # Held until commit or rollback: ids become visible in commit order (module doc).
            db.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
            # Delivered by PostgreSQL on commit only, to every process that listens.
            db.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
        if any(e.kind in OUTDATING for e in events):
            # Strict, and read under the lock just before the commit (not at the
            # transaction's start): a token whose claims were read before this commit has
            # an `iat` below it even in the same second (module doc, "The same second").
            cutoff = math.floor(self.clock.database_instant(db).timestamp()) + 1
            for e in events:
                if e.kind in OUTDATING:
                    e.issued_before = cutoff
        db.add_all(events)
        db.flush()
        db.info.setdefault(_PENDING, []).extend(event_json(e) for e in events)

    # -- the feed ------------------------------------------------------------------------

    def page(self, db: Session, since: int, limit: int | None = None) -> FeedPage:
        """Live events after `since`, oldest first, at most `limit` (the page size)."""
        limit = min(limit or self.page_size, self.page_size)
        query = (
            select(RevocationEvent)
            .where(
                RevocationEvent.id > since,
                RevocationEvent.expires_at > self.clock.database_now(db),
            )
            .order_by(RevocationEvent.id)
            .limit(limit + 1)
        )
        events = list(db.scalars(query))
        has_more = len(events) > limit
        events = events[:limit]
        return FeedPage(events, events[-1].id if events else since, has_more)
