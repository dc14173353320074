"""A circuit breaker: a dead auth server must not hold every worker for the full timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rozitech_auth import metrics


class CircuitOpen(Exception):
    """The breaker refuses the call; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open, retry after {retry_after:.1f}s")
        self.retry_after = retry_after


class CircuitBreaker:
    """Closed -> open after `threshold` consecutive outage failures -> after `cooldown`
    seconds, one trial call (half-open): success closes it, failure opens it again.

    Thread-safe; one per process (per client). Only outages count as failures: a 401 or
    a validation error is the auth server working.
    """

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._clock() - self._opened_at < self.cooldown or self._trial_in_flight:
                return "open"
            return "half-open"

    def before_call(self) -> None:
        """Raise CircuitOpen unless the call may go ahead (closed, or the half-open trial)."""
        with self._lock:
            if self._opened_at is None:
                return
            remaining = self._opened_at + self.cooldown - self._clock()
            if remaining > 0:
                raise CircuitOpen(remaining)
            if self._trial_in_flight:
                # One trial at a time: the others fail fast while it finds out.
                raise CircuitOpen(1.0)
            self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                metrics.breaker_changed(is_open=False)
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            trial_failed = self._trial_in_flight
            self._trial_in_flight = False
            if trial_failed or self._failures >= self.threshold:
                metrics.breaker_changed(is_open=True, opened=self._opened_at is None)
                self._opened_at = self._clock()

    def retry_after(self) -> float:
        """Seconds until a call may be tried again (0 when closed)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.cooldown - self._clock())
