"""The server's notion of "now": its own clock, and the database's for what replicas compare.

Times that one replica writes and another compares (a revocation's `issuedBefore` against
a token's `iat`, the grace window of a rotated refresh token, a session's expiry) are taken
from the database's clock, read once per transaction: replicas whose host clocks disagree
by a few seconds then still agree on the order of events. The host clock is what a
verifier compares a token's `exp`/`iat` with (as every other verifier does). On SQLite the
database runs in this process, on this host: its clock is the host's.

Under ENVIRONMENT=test only, both are shifted by the seconds in TEST_CLOCK_FILE (so tests
can move time forward), and the host clock also by TEST_CLOCK_SKEW (a skewed replica).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from auth_server.config import Settings

logger = logging.getLogger("auth_server.clock")


class Clock:
    def __init__(self, settings: Settings) -> None:
        self._offset_file: Path | None = None
        self._skew = 0.0
        if settings.test_clock_file or settings.test_clock_skew:
            if settings.environment == "test":
                if settings.test_clock_file:
                    self._offset_file = Path(settings.test_clock_file)
                self._skew = settings.test_clock_skew
            else:
                # Never let a stray setting move time (and so expiries) outside the tests.
                logger.warning("TEST_CLOCK_FILE/TEST_CLOCK_SKEW ignored: ENVIRONMENT is not 'test'")

    def now(self) -> datetime:
        """This host's clock."""
        return datetime.now(UTC) + timedelta(seconds=self._offset() + self._skew)

    def database_now(self, db: Session) -> datetime:
        """The database's clock (PostgreSQL: the transaction's start, `now()`)."""
        return self._database_clock(db, func.now())

    def database_instant(self, db: Session) -> datetime:
        """The database's clock at this statement (PostgreSQL: `clock_timestamp()`, not the
        transaction's start): when a change's revocation event is written, just before its
        commit."""
        return self._database_clock(db, func.clock_timestamp())

    def _database_clock(self, db: Session, postgresql_clock: ColumnElement[datetime]) -> datetime:
        if db.get_bind().dialect.name == "postgresql":
            now = db.scalar(select(postgresql_clock))
            assert isinstance(now, datetime)
            return now.astimezone(UTC) + timedelta(seconds=self._offset())
        return datetime.now(UTC) + timedelta(seconds=self._offset())

    def _offset(self) -> float:
        if self._offset_file is None:
            return 0.0
        try:
            return float(self._offset_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0
