"""The lockout under parallel attempts: the budget is reserved before argon2 runs, so no
number of parallel guesses gets more than LOGIN_MAX_FAILURES passwords checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import httpx
import pytest
from sqlalchemy import func, select

from auth_server.models import AuditEvent
from tests.auth_server.helpers import PASSWORD, bearer, database, login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

MAX_FAILURES = 5
PARALLEL = 30


@pytest.fixture(scope="module")
def server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("lockout-race")
    with clocked_server(
        workdir,
        smtp_sink.port,
        login_max_failures=MAX_FAILURES,
        rate_limit_per_ip="100000/minute",
    ) as running:
        yield running


def checked_wrong_passwords(server: AuthServerProcess, email: str, event: str) -> int:
    """Wrong passwords that argon2 actually verified: each leaves one failure event whose
    reason is the password (refused ones say "locked" or "rate_limited")."""
    with database(server) as db:
        count = db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.email == email, AuditEvent.event == event)
            .where(AuditEvent.details["reason"].as_string().in_(CHECKED_REASONS))
        )
    return int(count or 0)


CHECKED_REASONS = ("invalid_credentials", "invalid_current_password")

# A request to send: path, JSON body, headers.
Request = tuple[str, dict[str, object], dict[str, str]]


def in_parallel(base_url: str, requests: list[Request]) -> list[int]:
    """Sends every request at the same moment, each on its own connection."""
    start = Barrier(len(requests))

    def send(request: Request) -> int:
        path, body, headers = request
        with httpx.Client(base_url=base_url, timeout=120) as http:
            http.get("/health")  # connected before the barrier
            start.wait()
            return http.post(path, json=body, headers=headers).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_parallel_wrong_logins_check_at_most_the_budget(
    server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    running, _clock = server
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
    wrong: Request = ("/api/auth/login", {"email": email, "password": "wrong password!"}, {})
    right: Request = ("/api/auth/login", {"email": email, "password": PASSWORD}, {})
    statuses = in_parallel(running.base_url, [wrong] * (PARALLEL - 1) + [right])

    checked = checked_wrong_passwords(running, email, "login_failed")
    # Before the fix, 16 of 29 parallel wrong passwords were checked against a budget of 5.
    assert checked <= MAX_FAILURES
    # Every request was answered: a checked wrong one with 401 (or 429 when it set the
    # lock), every other one with 429 before its password was looked at.
    assert Counter(statuses)[401] <= MAX_FAILURES
    assert set(statuses) <= {200, 401, 429}
    # The lock is set now: the right password is refused too.
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        after = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert after.status_code == 429


def test_right_password_after_parallel_guesses_is_refused(
    server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Parallel guesses check at most the budget and lock the address; the right password
    sent after them is refused (429 with Retry-After), not let in past the lock."""
    running, _clock = server
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
    wrong: Request = ("/api/auth/login", {"email": email, "password": "wrong password!"}, {})
    statuses = in_parallel(running.base_url, [wrong] * PARALLEL)
    assert Counter(statuses)[401] == MAX_FAILURES - 1
    assert Counter(statuses)[429] == PARALLEL - MAX_FAILURES + 1
    assert checked_wrong_passwords(running, email, "login_failed") == MAX_FAILURES
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        locked = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


def test_parallel_change_password_guesses_check_at_most_the_budget(
    server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    running, _clock = server
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
        token = login(http, email)["accessToken"]
    guess: Request = (
        "/api/auth/change-password",
        {"currentPassword": "wrong password!", "newPassword": "a brand new passphrase"},
        bearer(token),
    )
    statuses = in_parallel(running.base_url, [guess] * PARALLEL)
    assert checked_wrong_passwords(running, email, "password_changed") <= MAX_FAILURES
    assert Counter(statuses)[400] <= MAX_FAILURES
    assert set(statuses) <= {400, 429}
