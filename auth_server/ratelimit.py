"""Rate limits and login lockout, counted by the `limits` library in Redis or in process."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import timedelta

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import RateLimited
from auth_server.models import LoginLock

logger = logging.getLogger("auth_server.ratelimit")


def account_key(email: str) -> str:
    """The counter key of an e-mail address: hashed, so raw addresses never sit in Redis."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


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

    def hit_ip(self, endpoint: str, ip_address: str | None) -> None:
        self.hit(self.per_ip, "ip", endpoint, ip_address or "unknown")

    def hit_account(self, endpoint: str, email: str) -> None:
        # Counted for unknown addresses too, so a 429 says nothing about the account.
        self.hit(self.per_account, "account", endpoint, account_key(email))

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


class Lockout:
    """LOGIN_MAX_FAILURES failed logins lock an address's password login for a while.

    Failures are counted by `limits` (Redis or in process); the lock itself is a database
    row, shared by every replica and judged by the server's clock.
    """

    def __init__(self, settings: Settings, clock: Clock, limits: RateLimits) -> None:
        self.clock = clock
        self.limits = limits
        self.lockout_seconds = settings.login_lockout_seconds
        self.failures = RateLimitItemPerSecond(
            settings.login_max_failures, settings.login_lockout_seconds
        )

    def check(self, db: Session, email: str) -> None:
        """RateLimited while the address is locked, whether or not the password is right."""
        lock = db.get(LoginLock, account_key(email))
        now = self.clock.now()
        if lock is not None and lock.locked_until > now:
            retry_after = max(1, math.ceil((lock.locked_until - now).total_seconds()))
            raise RateLimited("Too many failed logins; try again later", retry_after=retry_after)

    def register_failure(self, db: Session, email: str) -> bool:
        """Counts a failed login; True when it locked the address."""
        key = account_key(email)
        try:
            self.limits.limiter.hit(self.failures, "login-failures", key)
            if self.limits.limiter.test(self.failures, "login-failures", key):
                return False
            # The lock replaces the count: after it expires the address starts afresh.
            self.limits.limiter.clear(self.failures, "login-failures", key)
        except StorageError as exc:
            # Fail open, as above; the database lock of an already locked address still holds.
            logger.warning("Rate-limit storage unavailable (%s); failure not counted", exc)
            return False
        self._lock(db, key)
        return True

    def _lock(self, db: Session, key: str) -> None:
        now = self.clock.now()
        until = now + timedelta(seconds=self.lockout_seconds)
        lock = db.get(LoginLock, key)
        if lock is None:
            db.add(LoginLock(key_hash=key, locked_until=until, created_at=now))
        else:
            lock.locked_until = until
        try:
            db.commit()
        except IntegrityError:
            # Another replica locked the same address at the same moment: locked either way.
            db.rollback()

    def clear_failures(self, email: str) -> None:
        """A successful login forgets the earlier failures."""
        try:
            self.limits.limiter.clear(self.failures, "login-failures", account_key(email))
        except StorageError as exc:
            logger.warning("Rate-limit storage unavailable (%s); failures not cleared", exc)
