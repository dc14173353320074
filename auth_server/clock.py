"""The server's notion of "now", with a test-only offset so tests can move time forward."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auth_server.config import Settings

logger = logging.getLogger("auth_server.clock")


class Clock:
    """UTC now; under ENVIRONMENT=test only, shifted by the seconds in TEST_CLOCK_FILE."""

    def __init__(self, settings: Settings) -> None:
        self._offset_file: Path | None = None
        if settings.test_clock_file:
            if settings.environment == "test":
                self._offset_file = Path(settings.test_clock_file)
            else:
                # Never let a stray setting move time (and so expiries) outside the tests.
                logger.warning("TEST_CLOCK_FILE ignored: ENVIRONMENT is not 'test'")

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset())

    def _offset(self) -> float:
        if self._offset_file is None:
            return 0.0
        try:
            return float(self._offset_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0
