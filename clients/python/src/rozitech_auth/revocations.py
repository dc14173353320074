"""Hybrid mode's revocation set, kept current by the auth server's revocation feed.

`RevocationFeed` holds, in process memory, every live revocation the auth server announced:
sessions (`sid`), users ("tokens with `iat` < issuedBefore"), and, since tokens carry their
organization's role and licenses, outdated claims: `membership_changed` (that user's tokens
for that organization, `org`, issued before the change: a new role, or no membership any
more) and `licenses_changed` (every token for that organization issued before the change).
An outdated token is refused like a revoked one; the client refreshes and gets the new
claims. Each applied event is also handed to the feed's `on_event` listener (the Django
adapter turns membership changes into a signal for the service's own mirror). A background
thread keeps the set current:

- with Redis (`AUTH_REVOCATION_REDIS_URL`, by default the service's `REDIS_URL`): subscribed
  to the auth server's channel, applying each event at once; after every (re)subscription a
  backfill from the feed (since=0) finds what was published while nobody listened; a slow
  poll of the feed (`safety_interval`) still runs, to catch a publish the auth server lost
  and to know that the feed is reachable;
- without Redis: the waiting feed (long polling): one request at a time that the auth
  server holds until an event is committed or `long_poll` seconds have passed, then the next
  one at once; after a failure, the next one after a back-off (up to MAX_BACKOFF);
- with AUTH_REVOCATION_WAIT=0, or while Redis is away: the feed is polled every
  `poll_interval` seconds.

The cursor advances only from feed answers, never from channel messages (the feed is the
source of truth, see the auth server's README section). An entry is kept until no token it
covers could still verify here: its `expiresAt` (the latest `exp` of a covered token) plus
this verifier's leeway (`AUTH_JWT_LEEWAY`, tokens are accepted until `exp` + leeway) plus
`CLOCK_MARGIN` (the revoking replica's clock may be behind ours); then it is dropped, so the
set stays bounded.

A fetch reads page after page until the feed says `hasMore: false`: only then is the set
current, and only then is it marked ready (fresh).

`fresh()` is False when the feed has not answered for longer than `max_staleness` (or never
answered yet): hybrid verification then falls back to `remote` rather than trust state that
may miss a revocation. The thread starts lazily on first use, and again in a forked child
(pid check), so that nothing fork-unsafe (a thread, a socket) is made before a pre-fork
server forks its workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rozitech_auth import metrics, tokens
from rozitech_auth.breaker import CircuitBreaker
from rozitech_auth.client import AuthServerClient
from rozitech_auth.conf import ClientSettings

# The payload of the liveness PING on the channel's connection (answered as a "pong").
LIVENESS_PING = "rozitech-auth-revocations-liveness"

logger = logging.getLogger("rozitech_auth.revocations")

# Seconds an entry outlives `expiresAt` + leeway: covers clock skew between the revoking
# replica and this one (the same allowance the auth server gives retired signing keys).
CLOCK_MARGIN = 60.0
# Longest pause between long polls after failures (they double from the poll interval).
MAX_BACKOFF = 5.0
# Seconds the HTTP read may last beyond the long poll's wait (the server answers at `wait`).
LONG_POLL_MARGIN = 5.0


def iso_epoch(value: Any) -> float | None:
    """`expiresAt` (ISO 8601 with a zone) as epoch seconds; None when unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


# Event kinds (the auth server's `type`): the keys of their cutoffs in the set.
SESSION, USER = "session", "user"
MEMBERSHIP_CHANGED, LICENSES_CHANGED = "membership_changed", "licenses_changed"
# Reasons of a membership_changed after which the membership no longer exists.
MEMBERSHIP_ENDED = frozenset({"removed", "left"})
# Reasons of a user event after which the user no longer exists (the auth server's erasure:
# by a trusted service, or by the user).
USER_ERASED = frozenset({"user_deleted", "account_deleted"})

# A cutoff's key: (sub,) for a user, (sub, org) for a membership, ("", org) for an
# organization's licenses; the claims of a token are checked against all three.
CutoffKey = tuple[str, ...]


def _id(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def cutoff_key(event: Mapping[str, Any]) -> CutoffKey | None:
    """Which tokens an "issued before" event covers; None when it is not one (or malformed)."""
    kind, sub, org = event.get("type"), _id(event.get("sub")), _id(event.get("org"))
    if kind == USER and sub:
        return (sub,)
    if kind == MEMBERSHIP_CHANGED and sub and org:
        return (sub, org)
    if kind == LICENSES_CHANGED and org:
        return ("", org)
    return None


def erased_user(event: Mapping[str, Any]) -> str | None:
    """The auth server's id of the user an event says was erased; None for any other event."""
    if event.get("type") == USER and event.get("reason") in USER_ERASED:
        return _id(event.get("sub"))
    return None


class RevocationSet:
    """Revoked sessions and "issued before" cutoffs (of a user, a membership, an
    organization's licenses), each until no covered token could still verify: the latest
    `exp` a covered token can have (`expiresAt`) + `keep_after` seconds.

    One writer (the feed's thread); readers never take the lock: single dict lookups are
    atomic, and pruning swaps in new dicts instead of deleting from the ones being read.
    """

    def __init__(self, keep_after: float = CLOCK_MARGIN) -> None:
        # The verifier's leeway + CLOCK_MARGIN: a token is accepted until `exp` + leeway.
        self.keep_after = keep_after
        self._lock = threading.Lock()
        # sid -> when the entry may go (expiresAt + keep_after, epoch seconds)
        self._sessions: dict[str, float] = {}
        # cutoff key -> (issuedBefore, when the entry may go)
        self._cutoffs: dict[CutoffKey, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self._sessions) + len(self._cutoffs)

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Adds one feed/channel event; False when it is malformed, unknown or expired."""
        expires = iso_epoch(event.get("expiresAt"))
        if expires is None:
            return False
        expires += self.keep_after
        if expires <= tokens.now():
            return False
        kind = event.get("type")
        with self._lock:
            if kind == SESSION and isinstance(event.get("sid"), str):
                sid = event["sid"].lower()
                self._sessions[sid] = max(expires, self._sessions.get(sid, 0.0))
                return True
            before, key = event.get("issuedBefore"), cutoff_key(event)
            if key is not None and isinstance(before, int) and not isinstance(before, bool):
                old_before, old_expires = self._cutoffs.get(key, (0, 0.0))
                # The union of both events: the later cutoff, kept until the later expiry
                # (a superset, never a subset, of what either revokes).
                self._cutoffs[key] = (max(before, old_before), max(expires, old_expires))
                return True
        return False

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """Revoked (session, user), or outdated (its organization's role or licenses)."""
        sid = _id(claims.get("sid"))
        if sid is not None and sid in self._sessions:
            return True
        if not self._cutoffs:
            return False  # the common case, on every request: no cutoff to compare with
        sub, org = _id(claims.get("sub")) or "", _id(claims.get("org"))
        keys: list[CutoffKey] = [(sub,)]
        if org is not None:
            # A token of another organization (or of none) is not outdated by these.
            keys += [(sub, org), ("", org)]
        iat = claims.get("iat")
        for key in keys:
            found = self._cutoffs.get(key)
            # A token without a usable `iat` cannot prove it was issued after the cutoff.
            if found is not None and (not isinstance(iat, int | float) or iat < found[0]):
                return True
        return False

    def prune(self) -> int:
        """Drops entries no covered token could still pass; returns how many."""
        current = tokens.now()
        with self._lock:
            sessions = {k: v for k, v in self._sessions.items() if v > current}
            cutoffs = {k: v for k, v in self._cutoffs.items() if v[1] > current}
            dropped = len(self) - len(sessions) - len(cutoffs)
            self._sessions, self._cutoffs = sessions, cutoffs
        return dropped


class RevocationFeed:
    """The revocation set plus the thread that keeps it current (see the module doc)."""

    def __init__(
        self,
        conf: ClientSettings,
        client_factory: Callable[[], AuthServerClient] | None = None,
        on_event: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.conf = conf
        # Told of every event the set applied, on the feed's thread; an event may come
        # twice (channel and feed, every backfill): a listener must be idempotent.
        self.on_event = on_event
        self.poll_interval = conf.revocation_poll_interval
        self.max_staleness = conf.revocation_max_staleness
        # With Redis the feed is still read now and then: a lost publish is found, and an
        # unreachable feed is noticed well before the staleness limit.
        self.safety_interval = max(self.poll_interval, self.max_staleness / 3)
        self.redis_url = conf.revocation_redis_url
        self.channel = conf.revocation_channel
        # Without Redis: long polls of this many seconds (0: polling). At most half the
        # staleness limit: an idle feed still answers (and counts as fresh) twice per limit.
        self.long_poll = (
            0.0 if self.redis_url else min(conf.revocation_wait, self.max_staleness / 2)
        )
        self._client_factory = client_factory or self._default_client
        self.revoked = self._new_set()
        self.cursor = "0"
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._last_success: float | None = None
        self._stale_logged = False
        self._subscribed = False
        self.fetches = 0
        self.backfills = 0
        self.channel_events = 0

    def _new_set(self) -> RevocationSet:
        return RevocationSet(keep_after=self.conf.jwt_leeway + CLOCK_MARGIN)

    def _default_client(self) -> AuthServerClient:
        # A client of its own: its pool and breaker are not the requests' ones. The breaker
        # cools down for one poll interval only: the poll rate is already our back-off, and
        # a long cool-down would keep us on remote fallback after the server is back.
        return AuthServerClient(
            conf=self.conf,
            # A long poll's answer may take its whole wait.
            timeout=self.conf.timeout + self.long_poll + LONG_POLL_MARGIN
            if self.long_poll
            else None,
            pool_size=2,
            breaker=CircuitBreaker(
                self.conf.breaker_threshold,
                min(self.conf.breaker_cooldown, self.poll_interval),
            ),
        )

    # -- used per request ----------------------------------------------------------------

    def ensure_running(self) -> None:
        """Starts the thread on first use in this process (again after a fork)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._start_lock:
            if self._pid == pid:
                return
            if self._pid is not None:
                # A forked child: the parent's thread does not exist here and its state is
                # the parent's; start from a fresh set and a full backfill.
                self.revoked = self._new_set()
                self.cursor = "0"
                self._ready = threading.Event()
                self._stop = threading.Event()
                self._last_success = None
                self._subscribed = False
            self._started_at = time.monotonic()
            self._thread = threading.Thread(
                target=self._run, name="core-revocation-feed", daemon=True
            )
            self._pid = pid
            self._thread.start()

    def fresh(self, wait: float = 0.0) -> bool:
        """True when the set may be trusted: the feed answered within `max_staleness`.

        On start the first backfill is awaited up to `wait` seconds: a set that has not
        been backfilled yet may miss any revocation of the last ACCESS_TOKEN_TTL.
        """
        self.ensure_running()
        if not self._ready.is_set():
            remaining = self._started_at + wait - time.monotonic()
            if remaining <= 0 or not self._ready.wait(remaining):
                return False
        last = self._last_success
        return last is not None and time.monotonic() - last <= self.max_staleness

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        return self.revoked.is_revoked(claims)

    def status(self) -> str:
        """For /health: live, starting (no backfill yet), or stale (remote fallback)."""
        if self.fresh():
            return "live"
        if not self._ready.is_set() and time.monotonic() - self._started_at <= self.max_staleness:
            return "starting"
        return "stale"

    @property
    def transport(self) -> str:
        if self._subscribed:
            return "redis"
        return "waiting" if self.long_poll else "polling"

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        client = self._client_factory()
        stop = self._stop
        pubsub: Any = None
        connection: redis.Redis | None = None
        next_connect = 0.0
        connect_delay = min(self.poll_interval, 1.0)
        needs_backfill = True
        next_poll = 0.0
        next_prune = 0.0
        # Our own PING once per poll interval, its answer due within REDIS_SOCKET_TIMEOUT:
        # a hung Redis (stopped, never closing the connection) sends nothing, and redis-py's
        # health check only writes its PING. Then the feed is polled, as when Redis is down.
        ping_sent: float | None = None
        next_ping = 0.0
        backoff = self.poll_interval
        try:
            while not stop.is_set():
                now = time.monotonic()
                if self.redis_url and pubsub is None and now >= next_connect:
                    try:
                        connection, pubsub = self._subscribe()
                        connect_delay = min(self.poll_interval, 1.0)
                        self._subscribed = True
                        # Subscribed first, then the backfill: an event is either in the
                        # feed's answer or arrives on the channel (or both; applying twice
                        # is harmless).
                        needs_backfill, next_poll = True, 0.0
                        ping_sent, next_ping = None, time.monotonic() + self.poll_interval
                        logger.info("Revocation channel %r subscribed", self.channel)
                    except (redis.RedisError, OSError) as exc:
                        logger.warning("Revocation channel unavailable (%s); polling the feed", exc)
                        next_connect = now + connect_delay
                        # Reconnect attempts back off up to 10 s; polling covers the gap.
                        connect_delay = min(connect_delay * 2, 10.0)
                if now >= next_poll:
                    since = "0" if needs_backfill else self.cursor
                    began = time.monotonic()
                    # A backfill never waits: the first requests of a process wait for it.
                    wait = 0.0 if needs_backfill else self.long_poll
                    if self._fetch(client, since, wait):
                        if needs_backfill:
                            self.backfills += 1
                        needs_backfill = False
                        self._ready.set()
                        subscribed = pubsub is not None
                        interval = self.safety_interval if subscribed else self.poll_interval
                        if wait:
                            backoff = self.poll_interval
                            # The next long poll at once; after an empty answer that did not
                            # wait (a server that ignores `wait`), at the poll rate.
                            early = self.cursor == since and time.monotonic() - began < wait / 2
                            interval = self.poll_interval if early else 0.0
                    else:
                        self._check_staleness()
                        # Retried at the poll rate (a failed backfill stays pending); long
                        # polls back off, doubling up to MAX_BACKOFF.
                        interval = self.poll_interval
                        if self.long_poll:
                            interval, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
                    next_poll = time.monotonic() + interval
                if time.monotonic() >= next_prune:
                    self.revoked.prune()
                    next_prune = time.monotonic() + 1.0
                wait = max(0.0, min(next_poll, next_prune) - time.monotonic())
                if pubsub is None:
                    if self.redis_url:
                        wait = min(wait, max(0.0, next_connect - time.monotonic()))
                    stop.wait(wait)
                    continue
                try:
                    now = time.monotonic()
                    if ping_sent is None and now >= next_ping:
                        pubsub.ping(LIVENESS_PING)
                        ping_sent = now
                    if ping_sent is not None:
                        answer_due = ping_sent + self.conf.redis_socket_timeout - now
                        if answer_due <= 0:
                            raise redis.TimeoutError("Redis did not answer a PING")
                        wait = min(wait, answer_due)
                    message = pubsub.get_message(timeout=min(wait, 1.0))
                except (redis.RedisError, OSError, ValueError) as exc:
                    logger.warning("Revocation channel lost (%s); reconnecting", exc)
                    self._close(connection, pubsub)
                    connection, pubsub = None, None
                    self._subscribed = False
                    next_connect = time.monotonic() + min(self.poll_interval, 1.0)
                    next_poll = 0.0  # poll at once: events may be flowing unheard
                    continue
                if message is None:
                    continue
                if message.get("type") == "subscribe":
                    # Every (re)subscription, also one redis-py made on its own after a
                    # reconnect: what was published while nobody listened is only in the
                    # feed, so read it all again.
                    self._subscribed = True
                    needs_backfill, next_poll = True, 0.0
                elif message.get("type") == "message":
                    self._apply_message(message.get("data"))
                elif message.get("type") == "pong":
                    ping_sent, next_ping = None, time.monotonic() + self.poll_interval
        except Exception:  # pragma: no cover - a bug; never let the thread die silently
            logger.exception("Revocation feed thread failed; hybrid falls back to remote")
            raise
        finally:
            self._subscribed = False
            self._close(connection, pubsub)
            client.close()

    def _subscribe(self) -> tuple[redis.Redis, Any]:
        connection = redis.Redis.from_url(
            self.redis_url,
            # Short: a hung Redis must not hold this thread (and the feed polls) for long.
            socket_connect_timeout=self.conf.redis_socket_timeout,
            socket_timeout=self.conf.redis_socket_timeout,
            # Reconnects are ours (so that each one is followed by a backfill).
            retry=Retry(NoBackoff(), 0),
            # A silently dead connection is noticed by a PING within this many seconds (a
            # hung Redis, which never answers, by our own PING: see _run).
            health_check_interval=10,
        )
        pubsub = connection.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            # Only the server's confirmation says the subscription is in effect.
            deadline = time.monotonic() + self.conf.redis_socket_timeout
            while (remaining := deadline - time.monotonic()) > 0:
                message = pubsub.get_message(timeout=remaining)
                if message is not None and message.get("type") == "subscribe":
                    return connection, pubsub
            raise redis.TimeoutError("no subscription confirmation")
        except (redis.RedisError, OSError):
            self._close(connection, pubsub)
            raise

    @staticmethod
    def _close(connection: redis.Redis | None, pubsub: Any) -> None:
        for thing in (pubsub, connection):
            if thing is not None:
                # Closing a broken connection may fail; nothing more to do about it then.
                with contextlib.suppress(Exception):
                    thing.close()

    def _apply_message(self, data: Any) -> None:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            logger.warning("Ignoring a revocation channel message that is not JSON")
            return
        if isinstance(event, dict):
            # Applied at once; the cursor is NOT moved (it follows feed answers only).
            self.channel_events += 1
            self._apply(event)

    def _apply(self, event: Mapping[str, Any]) -> None:
        if not self.revoked.apply(event):
            return
        # The lag of events that arrive after the backfill (older ones would skew it).
        if self._ready.is_set():
            metrics.revocation_applied(iso_epoch(event.get("revokedAt")))
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            # The listener's failure (its database, say) must not stop revocations.
            logger.exception("Revocation event listener failed on a %s event", event.get("type"))

    def _fetch(self, client: AuthServerClient, since: str, wait: float = 0.0) -> bool:
        """Reads the feed from `since` until `hasMore` is false (waiting up to `wait` seconds
        for an event when there is none); False when it cannot.

        Only a fetch that reached the end counts as success (ready, fresh): a set that
        stopped short misses the newest revocations."""
        cursor = since
        try:
            while True:
                page = client.revocations(cursor, wait=wait)
                events = page.get("events")
                next_cursor = page.get("cursor")
                if not isinstance(events, list) or not isinstance(next_cursor, str):
                    raise ValueError("unexpected revocation feed answer")
                for event in events:
                    if isinstance(event, dict):
                        self._apply(event)
                more, moved = bool(page.get("hasMore")), next_cursor != cursor
                cursor = next_cursor
                if not more:
                    break
                if not moved:
                    # A cursor that does not move would loop for ever: not a usable feed.
                    raise ValueError("revocation feed cursor did not advance")
                if self._stop.is_set():
                    return False
        except Exception as exc:
            # Any failure (outage, refused credential, bad answer) is an unreachable feed:
            # the staleness limit decides when to stop trusting the set.
            logger.warning("Revocation feed unreachable: %s", exc)
            return False
        self.fetches += 1
        self.cursor = cursor
        self._last_success = time.monotonic()
        metrics.feed_read()
        if self._stale_logged:
            logger.warning("Revocation feed reachable again: hybrid verification resumes")
            self._stale_logged = False
        return True

    def _check_staleness(self) -> None:
        last = self._last_success
        since = self._started_at if last is None else last
        stale = time.monotonic() - since > self.max_staleness
        metrics.feed_stale(stale)
        if not self._stale_logged and stale:
            self._stale_logged = True
            logger.error(
                "Revocation feed unreachable for more than %.0f s: verifying tokens remotely "
                "(GET /api/auth/me) until it answers again",
                self.max_staleness,
            )
