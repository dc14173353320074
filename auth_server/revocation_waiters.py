"""The waiting feed: a read of the revocation feed that finds nothing new may wait for the
next commit (long polling, `GET /api/auth/revocations?since=N&wait=S`).

Invariant: a waiter never sleeps through an event that it would have read. How:

- A wake-up is only a hint ("a revocation may have been committed"); after every one the
  waiter reads the feed again from the database by its cursor. Cursors are ids made visible
  in commit order (see revocations.py), so a lost, late, duplicated or spurious wake-up
  costs at most a delay, never an event; the `since` of the client's next request covers
  whatever a cut-off request would have returned.
- The waiter takes its wake-up ticket (the current `asyncio.Event`) BEFORE it reads: a
  commit between its read and its sleep has already set that ticket.
- Waiting holds no thread and no database connection: a waiter is a coroutine awaiting an
  `asyncio.Event`; each read is one short session in the thread pool.
- Waiters woken together with the same cursor share one read, and only a read that began
  after their ticket was taken (same ticket): a commit after that read began sets their
  ticket, so sharing it misses nothing either.

Wake-ups come from this process's own commits (the revocations' after-commit hook) and from
other processes through revocation_notify.py (PostgreSQL LISTEN/NOTIFY, Redis, or a cheap
check of the newest event id). Rejected: Server-Sent Events (one long response per client:
proxies buffer it, and a reconnect needs the same cursor logic anyway); a thread per waiter
(the sync routes' thread pool would be exhausted by 40 idle clients).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.concurrency import run_in_threadpool

from auth_server.db import Database
from auth_server.revocations import FeedPage, Revocations

# The longest wait a request may ask for: below the usual 30-60 s proxy read timeouts.
MAX_WAIT = 30.0


class Wakeups:
    """Wakes every coroutine of this process that waits for "something was committed"."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()
        self.closing = False
        # Coroutines asleep right now (the fallback check runs only while there are some).
        self.sleeping = 0

    def ticket(self) -> asyncio.Event:
        """The event the next wake-up sets; take it before reading. Called on the loop."""
        # The loop that serves requests, known from its first waiter: the after-commit
        # hook (in a pool thread) can only reach waiters through it.
        self._loop = asyncio.get_running_loop()
        return self._event

    def wake(self) -> None:
        """Wakes every waiter (on the loop); the next ones get a new ticket."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    def wake_threadsafe(self) -> None:
        """Wakes every waiter from any thread; a no-op before anyone waited."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # A loop closing at this very moment refuses the call; nobody waits there then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.wake)

    def close(self) -> None:
        """The server is stopping: current waiters answer now, new ones do not wait (a
        waiting request would otherwise hold the graceful shutdown for up to MAX_WAIT)."""
        self.closing = True
        self.wake_threadsafe()

    async def sleep(self, ticket: asyncio.Event, timeout: float) -> None:
        """Until `ticket` is set or `timeout` seconds have passed."""
        self.sleeping += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ticket.wait(), timeout)
        finally:
            self.sleeping -= 1


class WaitingFeed:
    """Feed pages that wait for the next commit when there is nothing after the cursor."""

    def __init__(self, revocations: Revocations, database: Database, wakeups: Wakeups) -> None:
        self.revocations = revocations
        self.database = database
        self.wakeups = wakeups
        self._reads: dict[tuple[int, int | None, asyncio.Event], asyncio.Future[FeedPage]] = {}

    async def page(self, since: int, limit: int | None, wait: float) -> FeedPage:
        """The page after `since`; when it is empty, waits up to `wait` seconds for one that
        is not (then answers at once), or answers the empty page when the time is up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait, MAX_WAIT)
        while True:
            ticket = self.wakeups.ticket()
            page = await self._shared_read(since, limit, ticket)
            remaining = deadline - loop.time()
            if page.events or remaining <= 0 or self.wakeups.closing:
                return page
            await self.wakeups.sleep(ticket, remaining)

    async def _shared_read(self, since: int, limit: int | None, ticket: asyncio.Event) -> FeedPage:
        """One database read for every caller with this cursor and this ticket (see the
        module doc): a wake-up of many waiters costs a read per distinct cursor."""
        key = (since, limit, ticket)
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(run_in_threadpool(self._read, since, limit))
            self._reads[key] = pending
            pending.add_done_callback(lambda _done: self._reads.pop(key, None))
        # One caller cancelled (its client gone) must not cancel the others' read.
        return await asyncio.shield(pending)

    def _read(self, since: int, limit: int | None) -> FeedPage:
        # A session per read, closed before any wait: no connection is held while waiting.
        with self.database.session_factory() as db:
            return self.revocations.page(db, since, limit)
