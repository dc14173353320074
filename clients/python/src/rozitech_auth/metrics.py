"""Prometheus metrics of the client side (the SaaS Admin's /metrics exposes them).

Verifications by mode and result, cache hits, the circuit breaker, the revocation feed's
lag and staleness, JWKS refreshes. Several worker processes: with PROMETHEUS_MULTIPROC_DIR
set, every process writes its values there and the exporting view adds them up; the gauges
say how (the breaker: open in any live process; the feed: its most recent success).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from rozitech_auth.errors import AuthError

VERIFICATIONS = Counter(
    "rozitech_auth_verifications_total",
    "Bearer-token verifications by mode (remote, local, hybrid) and result (success, or "
    "the error code: invalid_token, token_expired, token_revoked, auth_service_unavailable...)",
    ["mode", "result"],
)
CACHE_LOOKUPS = Counter(
    "rozitech_auth_verification_cache_total",
    "Verification cache lookups by result: hit, miss",
    ["result"],
)
BREAKER_OPEN = Gauge(
    "rozitech_auth_breaker_open",
    "1 while the circuit breaker to the auth server is open (in any live worker)",
    multiprocess_mode="livemax",
)
BREAKER_OPENINGS = Counter(
    "rozitech_auth_breaker_openings_total", "Times the circuit breaker opened"
)
REVOCATION_LAG = Histogram(
    "rozitech_auth_revocation_lag_seconds",
    "From a revocation on the auth server to its application here (hybrid mode)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
FEED_LAST_SUCCESS = Gauge(
    "rozitech_auth_revocation_feed_last_success_timestamp_seconds",
    "Unix time of the revocation feed's last complete read; staleness = time() - this",
    multiprocess_mode="max",
)
FEED_STALE = Gauge(
    "rozitech_auth_revocation_feed_stale",
    "1 while the feed is older than AUTH_REVOCATION_MAX_STALENESS (tokens verified remotely)",
    multiprocess_mode="livemax",
)
JWKS_REFRESHES = Counter(
    "rozitech_auth_jwks_refreshes_total",
    "Fetches of the auth server's JWKS by result: success, failure",
    ["result"],
)


class verification:  # lower case: used as the function it replaced (`with ...(mode):`)
    """Counts the verification made inside the block, by its outcome. A class, not a
    generator: this runs on every authenticated request, and the cached path is ~10 us."""

    __slots__ = ("mode",)

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any
    ) -> None:
        if kind is None:
            _successes(self.mode).inc()
        elif isinstance(exc, AuthError):
            VERIFICATIONS.labels(self.mode, exc.code).inc()


@functools.cache
def _successes(mode: str) -> Any:
    # The labelled child, looked up once per mode (labels() takes a lock each call).
    return VERIFICATIONS.labels(mode, "success")


_CACHE_RESULTS = {True: CACHE_LOOKUPS.labels("hit"), False: CACHE_LOOKUPS.labels("miss")}


def cache_lookup(hit: bool) -> None:
    _CACHE_RESULTS[hit].inc()


def breaker_changed(is_open: bool, opened: bool = False) -> None:
    BREAKER_OPEN.set(1 if is_open else 0)
    if opened:
        BREAKER_OPENINGS.inc()


def revocation_applied(revoked_at: float | None) -> None:
    """The lag of one event: from its `revokedAt` to now."""
    if revoked_at is not None:
        REVOCATION_LAG.observe(max(0.0, time.time() - revoked_at))


def feed_read() -> None:
    """A complete read of the feed: it is fresh again."""
    FEED_LAST_SUCCESS.set(time.time())
    FEED_STALE.set(0)


def feed_stale(stale: bool) -> None:
    FEED_STALE.set(1 if stale else 0)
