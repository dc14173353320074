"""Rate limits, counted by the `limits` library in Redis or in process; the login lockout,
counted in the database."""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from datetime import UTC, datetime, timedelta

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import String, and_, bindparam, case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from auth_server.accounts import normalize_email
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import RateLimited
from auth_server.i18n import N_
from auth_server.models import LoginLock, UTCDateTime

logger = logging.getLogger("auth_server.ratelimit")


def account_key(email: str) -> str:
    """The counter key of an e-mail address: hashed, so raw addresses never sit in Redis."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def clear_lock(db: Session, email: str) -> None:
    """Deletes the address's login lock and failure count (a password reset, an erasure).
    The caller commits."""
    db.execute(delete(LoginLock).where(LoginLock.key_hash == account_key(email)))


def _storage(settings: Settings) -> Storage:
    if settings.redis_url:
        # Shared by every replica: a client cannot multiply its budget by hitting several.
        storage = storage_from_string(
            settings.redis_url,
            key_prefix=settings.rate_limit_key_prefix,
            # Redis errors arrive as limits.errors.StorageError, handled below.
            wrap_exceptions=True,
            # A hung Redis must not hold a login: each call fails (open) within the timeout.
            socket_connect_timeout=settings.redis_socket_timeout,
            socket_timeout=settings.redis_socket_timeout,
            # No retries: redis-py's default would multiply the timeout by them.
            retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]  # passed on to redis-py
        )
        assert isinstance(storage, Storage)
        return storage
    return MemoryStorage()


class RateLimits:
    """Moving-window limits per client IP and per account, one counter per endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.storage = _storage(settings)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_ip = parse(settings.rate_limit_per_ip)
        self.per_account = parse(settings.rate_limit_per_account)
        self.reset_mails = parse(settings.reset_mails_per_client)
        self.invitations = parse(settings.invitations_per_user)
        self.token_per_ip = parse(settings.oauth_token_per_ip)
        self.token_per_client = parse(settings.oauth_token_per_client)
        self.authorize_per_ip = parse(settings.oauth_authorize_per_ip)

    def hit_ip(self, endpoint: str, ip_address: str | None) -> None:
        self.hit(self.per_ip, "ip", endpoint, ip_address or "unknown")

    def hit_account(self, endpoint: str, email: str) -> None:
        # Counted for unknown addresses too, so a 429 says nothing about the account.
        self.hit(self.per_account, "account", endpoint, account_key(email))

    def hit_client_account(self, endpoint: str, ip_address: str | None, email: str) -> None:
        """As `hit_account`, but each client address has its own budget for the account:
        requests from elsewhere never use up the budget of the account's owner."""
        self.hit(
            self.per_account, "client-account", endpoint, ip_address or "unknown",
            account_key(email),
        )  # fmt: skip

    def reset_mail_allowed(self, ip_address: str | None, email: str) -> bool:
        """Counts one reset mail to the account asked for by this client address; False
        beyond RESET_MAILS_PER_CLIENT. Per client address, so that a flood from other
        addresses never leaves the owner's own request without its mail."""
        try:
            return self.limiter.hit(
                self.reset_mails, "reset-mail", ip_address or "unknown", account_key(email)
            )
        except StorageError as exc:
            logger.warning("Rate-limit storage unavailable (%s); reset mail allowed", exc)
            return True

    def hit_inviter(self, user_id: uuid.UUID) -> None:
        """Counts one invitation sent by the user (INVITATIONS_PER_USER)."""
        self.hit(self.invitations, "invite", str(user_id))

    def hit_token(self, ip_address: str | None) -> None:
        """Counts one request to the OAuth token endpoint per client address
        (OAUTH_TOKEN_PER_IP): every request, whatever it names."""
        self.hit(self.token_per_ip, "ip", "oauth-token", ip_address or "unknown")

    def hit_token_client_refused(self, client_id: str | None) -> None:
        """Counts one token request whose client authentication failed, per client_id it
        named, every address together (OAUTH_TOKEN_PER_CLIENT). Only failures: anyone can
        name a client, so counting every request would let a flood of wrong secrets push
        the real client, which authenticates, to 429."""
        if client_id:
            # Hashed: the client_id is whatever the request says, of any length.
            digest = hashlib.sha256(client_id.encode()).hexdigest()
            self.hit(self.token_per_client, "client-refused", "oauth-token", digest)

    def hit_authorize(self, ip_address: str | None) -> None:
        """Counts one authorization request (or consent answer) of a browser address."""
        self.hit(self.authorize_per_ip, "ip", "oauth-authorize", ip_address or "unknown")

    def check_ip(self, endpoint: str, ip_address: str | None) -> None:
        """RateLimited while the address's budget for `endpoint` is spent; counts nothing."""
        identifiers = ("ip", endpoint, ip_address or "unknown")
        try:
            if self.limiter.test(self.per_ip, *identifiers):
                return
            reset_at = self.limiter.get_window_stats(self.per_ip, *identifiers).reset_time
        except StorageError as exc:
            logger.warning("Rate-limit storage unavailable (%s); request allowed", exc)
            return
        raise RateLimited(retry_after=_seconds_until(reset_at))

    def hit(self, item: RateLimitItem, *identifiers: str) -> None:
        """Counts one request; RateLimited (429 with Retry-After) once the window is full."""
        try:
            allowed = self.limiter.hit(item, *identifiers)
            if allowed:
                return
            reset_at = self.limiter.get_window_stats(item, *identifiers).reset_time
        except StorageError as exc:
            # Fail open: an outage of the counter store must not lock every user out.
            logger.warning("Rate-limit storage unavailable (%s); request allowed", exc)
            return
        raise RateLimited(retry_after=_seconds_until(reset_at))


def _seconds_until(epoch: float) -> int:
    return max(1, math.ceil(epoch - time.time()))


# `locked_until` of an address that has never been locked.
NEVER_LOCKED = datetime(1970, 1, 1, tzinfo=UTC)

# The values of the lockout's prebuilt statements (see Lockout._values); times typed as
# the columns are (UTC, naive on SQLite). Named apart from the columns, as SQLAlchemy wants.
_KEY = bindparam("key", type_=String())
_NOW = bindparam("now", type_=UTCDateTime())
_NEW_WINDOW_ENDS = bindparam("new_window_ends", type_=UTCDateTime())


class Lockout:
    """LOGIN_MAX_FAILURES wrong passwords within LOGIN_LOCKOUT_SECONDS lock an address's
    password login (login and change-password) for LOGIN_LOCKOUT_SECONDS.

    Check-then-act is not enough: parallel guesses all pass a check made before any of them
    failed (30 parallel logins verified 16 wrong passwords against a limit of 5). So every
    attempt is reserved first, by one conditional upsert on the address's row, committed
    before argon2 runs: of any number of parallel attempts at most LOGIN_MAX_FAILURES get a
    reservation in a window, the others get 429 without their password being checked. A
    right password refunds its reservation; a wrong one keeps it, and the wrong one that
    finds the budget full sets the lock. The row lives in the database, shared by every
    replica, and is judged by the server's clock.
    (Rejected: a lock in Python, which holds within one process only; counting in Redis,
    which cannot be made atomic with the lock row.)
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.max_failures = settings.login_max_failures
        self.lockout_seconds = settings.login_lockout_seconds
        self.period = timedelta(seconds=settings.login_lockout_seconds)
        # Built once: every login runs them, and building them cost more than running them.
        self._reserve = {
            "postgresql": self._reservation(postgresql.insert(LoginLock)),
            "sqlite": self._reservation(sqlite.insert(LoginLock)),
        }
        self._lock = (
            update(LoginLock)
            .where(
                LoginLock.key_hash == _KEY,
                LoginLock.failures >= self.max_failures,
                LoginLock.window_ends > _NOW,
                LoginLock.locked_until <= _NOW,
            )
            .values(locked_until=_NEW_WINDOW_ENDS, failures=0, window_ends=_NOW)
        )
        # When it was the only attempt counted (and no lock stands) the row goes, so that
        # successful logins leave no rows behind; otherwise one attempt is taken off.
        self._refund_row = delete(LoginLock).where(
            LoginLock.key_hash == _KEY,
            LoginLock.locked_until <= _NOW,
            or_(LoginLock.failures <= 1, LoginLock.window_ends <= _NOW),
        )
        self._refund_one = (
            update(LoginLock)
            .where(LoginLock.key_hash == _KEY, LoginLock.failures > 0, LoginLock.window_ends > _NOW)
            .values(failures=LoginLock.failures - 1)
        )

    def _reservation(
        self, insert: postgresql.Insert | sqlite.Insert
    ) -> ReturningInsert[tuple[int]]:
        window_over = or_(LoginLock.window_ends.is_(None), LoginLock.window_ends <= _NOW)
        return (
            insert.values(
                key_hash=_KEY,
                # Never locked, not "locked until now": a parallel attempt whose clock read
                # was a moment earlier would see that as a standing lock and get a 429.
                locked_until=NEVER_LOCKED,
                created_at=_NOW,
                failures=1,
                window_ends=_NEW_WINDOW_ENDS,
            )
            .on_conflict_do_update(
                index_elements=[LoginLock.key_hash],
                set_={
                    "failures": case((window_over, 1), else_=LoginLock.failures + 1),
                    "window_ends": case(
                        (window_over, _NEW_WINDOW_ENDS), else_=LoginLock.window_ends
                    ),
                },
                # The whole check is this WHERE, evaluated under the row's write lock.
                where=and_(
                    LoginLock.locked_until <= _NOW,
                    or_(window_over, LoginLock.failures < self.max_failures),
                ),
            )
            .returning(LoginLock.failures)
        )

    def _values(self, email: str) -> dict[str, object]:
        now = self.clock.now()
        return {"key": account_key(email), "now": now, "new_window_ends": now + self.period}

    def reserve(self, db: Session, email: str) -> None:
        """Counts one attempt before its password is checked, committed at once so that
        parallel attempts see it; RateLimited (nothing counted) while the address is locked
        or its window's budget is taken, whether or not the password is right."""
        values = self._values(email)
        statement = self._reserve[db.get_bind().dialect.name]
        # RETURNING, not rowcount: no row comes back when the WHERE refused the update.
        reserved = db.connection().execute(statement, values).first()
        db.commit()
        if reserved is None:
            raise RateLimited(
                N_("Too many failed logins; try again later"),
                retry_after=self._retry_after(db, str(values["key"])),
            )

    def register_failure(self, db: Session, email: str) -> bool:
        """A wrong password keeps its reservation; True when the budget is full and this
        failure locked the address (the count then starts afresh). The caller commits."""
        return db.connection().execute(self._lock, self._values(email)).rowcount > 0

    def fail(self, db: Session, email: str) -> None:
        """A wrong password of a signed-in caller (change-password, delete-account): its
        reservation is kept and committed; RateLimited when this failure locked the
        address, otherwise the caller reports the wrong password."""
        locked = self.register_failure(db, email)
        db.commit()
        if locked:
            raise RateLimited(
                N_("Too many failed attempts; try again later"), retry_after=self.lockout_seconds
            )

    def refund(self, db: Session, email: str) -> None:
        """A right password gives its reservation back. The caller commits."""
        values = self._values(email)
        connection = db.connection()
        if connection.execute(self._refund_row, values).rowcount == 0:
            connection.execute(self._refund_one, values)

    def _retry_after(self, db: Session, key: str) -> int:
        lock = db.get(LoginLock, key)
        now = self.clock.now()
        if lock is None:
            return 1
        until = lock.locked_until if lock.locked_until > now else lock.window_ends or now
        return max(1, math.ceil((until - now).total_seconds()))
