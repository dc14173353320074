"""Wake-ups from other processes: another auth-server process committed a revocation.

One background task per process, the first that applies:

- PostgreSQL: every revocation transaction runs `NOTIFY` (revocations.NOTIFY_CHANNEL),
  which PostgreSQL delivers only when, and only if, that transaction commits; this process
  keeps one async psycopg connection that LISTENs on it.
- otherwise, with REDIS_URL: the channel the events are published on after their commit.
- otherwise (SQLite without Redis, whose several workers share one file): no listener.

While no listener is connected (none configured, or reconnecting with back-off) and someone
waits, a check of the newest event id (a primary-key lookup) runs every CHECK_INTERVAL and
wakes the waiters when it changes. After every (re)connection every waiter is woken: what
was committed while nobody listened is then found by their re-read (see
revocation_waiters.py: a wake-up is a hint, the database cursor is the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import psycopg
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from auth_server.config import Settings
from auth_server.db import Database, normalize_database_url
from auth_server.models import RevocationEvent
from auth_server.revocation_waiters import Wakeups
from auth_server.revocations import NOTIFY_CHANNEL

logger = logging.getLogger("auth_server.revocation_notify")

# Seconds between checks of the newest event id while no listener is connected.
CHECK_INTERVAL = 0.25
# A connection silent for this long is probed (a dead peer is noticed within about this).
PROBE_INTERVAL = 15.0
MAX_BACKOFF = 10.0

# The listening connections' name in pg_stat_activity.
APPLICATION_NAME = "auth-server-revocation-listener"

# Runs one listening connection: calls `connected()` once it listens, then `wake()` per
# notification; returns or raises when the connection ends.
Listener = Callable[[Callable[[], None], Callable[[], None]], Awaitable[None]]


def postgres_listener(url: str) -> Listener:
    # libpq wants the plain URL, not SQLAlchemy's "postgresql+psycopg" driver name.
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def listen(connected: Callable[[], None], wake: Callable[[], None]) -> None:
        connection = await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
        )
        async with connection:
            await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            connected()
            while True:
                async for _ in connection.notifies(timeout=PROBE_INTERVAL):
                    wake()
                # Quiet for a while: a dead connection raises here instead of hanging.
                await connection.execute("SELECT 1")

    return listen


def redis_listener(url: str, channel: str) -> Listener:
    async def listen(connected: Callable[[], None], wake: Callable[[], None]) -> None:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=PROBE_INTERVAL
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            while True:
                message = await pubsub.get_message(timeout=PROBE_INTERVAL)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    connected()  # also after a reconnect redis-py made on its own
                elif message["type"] == "message":
                    wake()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    return listen


def listener_for(settings: Settings) -> Listener | None:
    url = normalize_database_url(settings.auth_database_url)
    if url.startswith("postgresql"):
        return postgres_listener(url)
    if settings.redis_url:
        return redis_listener(settings.redis_url, settings.revocation_channel_name)
    return None


class CrossProcessWakeups:
    """The background tasks that wake this process's waiters on other processes' commits."""

    def __init__(self, wakeups: Wakeups, database: Database, listener: Listener | None) -> None:
        self.wakeups = wakeups
        self.database = database
        self.listener = listener
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Starts the tasks on the running loop (the app's lifespan)."""
        if self.listener is not None:
            self._tasks.append(asyncio.create_task(self._listen(self.listener)))
        self._tasks.append(asyncio.create_task(self._check()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _connected(self) -> None:
        if not self.connected:
            logger.info("Revocation wake-ups: listening")
        self.connected = True
        # Whatever was committed while nobody listened: every waiter reads again.
        self.wakeups.wake()

    async def _listen(self, listener: Listener) -> None:
        delay = 0.5
        while True:
            try:
                await listener(self._connected, self.wakeups.wake)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Waiters are then woken by the id check instead: slower, never wrong.
                logger.warning("Revocation wake-ups: listener lost (%s); retrying", exc)
            if self.connected:
                delay = 0.5
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _check(self) -> None:
        newest: int | None = None
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            if self.connected or not self.wakeups.sleeping:
                # The last value is kept: any commit since then changes the id (ids only
                # grow), so the next comparison still sees it.
                continue
            try:
                current = await run_in_threadpool(self._newest_id)
            except Exception as exc:
                logger.warning("Revocation wake-ups: newest id unreadable (%s)", exc)
                continue
            # First check: no earlier value to compare with, so wake (a spurious re-read).
            if current != newest:
                self.wakeups.wake()
            newest = current

    def _newest_id(self) -> int:
        with self.database.session_factory() as db:
            return db.scalar(select(func.max(RevocationEvent.id))) or 0
