"""Support for the account-lifecycle tests: a movable clock, Redis, reset links."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.smtp import body_text


class TestClock:
    """Moves the server's "now" forward through TEST_CLOCK_FILE (honoured under
    ENVIRONMENT=test only); no test ever sleeps for an expiry."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        self.reset()

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.path.write_text(str(self.offset))

    def reset(self) -> None:
        self.offset = 0.0
        self.path.write_text("0")


# The Redis the suite may use (CI's second run sets it); tests that need it are marked.
REDIS_URL = os.environ.get("REDIS_URL", "")


def needs_redis(why: str) -> pytest.MarkDecorator:
    """Skip, saying why, where no Redis is configured."""
    return pytest.mark.skipif(not REDIS_URL, reason=f"REDIS_URL is not set: {why}")


def reset_token(message: EmailMessage) -> str:
    match = re.search(r"token=([A-Za-z0-9_\-]+)", body_text(message))
    assert match, "no reset token in the message"
    return match.group(1)


@contextmanager
def clocked_server(
    workdir: Path, smtp_port: int, **settings: Any
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    """An auth server of a test module's own, over a fresh database, with a movable clock."""
    clock = TestClock(workdir / "clock")
    with temporary_database(workdir) as url:
        server = AuthServerProcess(url, workdir, smtp_port, test_clock_file=clock.path, **settings)
        server.migrate().start()
        try:
            yield server, clock
        finally:
            server.stop()
