"""Waiting for an event in a test: check until it has happened, with one generous hang guard.

The guard is not an assertion about speed (tests assert no wall-clock thresholds: a loaded CI
machine must not fail them): it only ends a test that would otherwise hang, long after the
event should have happened on any machine. How fast things happen is measured, not asserted
(README "Performance").
"""

from __future__ import annotations

import time
from collections.abc import Callable

HANG_GUARD = 60.0


def until(condition: Callable[[], bool], what: str, guard: float = HANG_GUARD) -> None:
    """Returns once `condition()` is true; fails saying `what` did not happen if it is still
    false after `guard` seconds."""
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within the hang guard ({guard:.0f} s)")
        time.sleep(0.02)
