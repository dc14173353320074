"""Hybrid mode without Redis: the client's revocation feed reads the waiting feed.

Auth servers A and B on one database; the client feed (core.revocations.RevocationFeed, its
real thread) long-polls A, logouts go through B. A is stopped in the middle of a wait and
started again: nothing revoked meanwhile is lost. Real processes throughout, no fakes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from pytest_django.fixtures import Settings

from core import conf
from core.revocations import RevocationFeed
from tests.auth_server.helpers import login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.smtp import SmtpSink


@pytest.fixture
def replicas(smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[list[AuthServerProcess]]:
    shared = {"service_token": f"client-{uuid.uuid4().hex}{uuid.uuid4().hex}", "redis_url": ""}
    with temporary_database(tmp_path) as url:
        first = AuthServerProcess(url, tmp_path, smtp_sink.port, **shared).migrate().start()
        second = AuthServerProcess(url, tmp_path, smtp_sink.port, **shared)
        second.log_path = tmp_path / "server-b.log"
        second.start()
        try:
            yield [first, second]
        finally:
            second.stop()
            first.stop()


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """A functional deadline (a broken feed would never get there), not a timing."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def logged_in(server: AuthServerProcess, email: str) -> tuple[dict[str, object], str]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        data = login(http, email)
    claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
    return claims, data["refreshToken"]


def logout(server: AuthServerProcess, refresh_token: str) -> None:
    response = httpx.post(
        f"{server.base_url}/api/auth/logout", json={"refreshToken": refresh_token}, timeout=10
    )
    assert response.status_code == 200


def test_a_feed_cut_off_mid_wait_loses_nothing(
    settings: Settings, replicas: list[AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    first, second = replicas
    settings.AUTH_SERVICE_URL = first.base_url
    settings.AUTH_SERVICE_TOKEN = first.service_token
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_WAIT = 15
    settings.AUTH_REVOCATION_POLL_INTERVAL = 0.2
    # Trusted throughout A's outage below: only the feed's own answers matter here.
    settings.AUTH_REVOCATION_MAX_STALENESS = 300
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
    sessions = [logged_in(first, email) for _ in range(3)]
    feed = RevocationFeed(conf.load())
    try:
        assert feed.fresh(wait=10)
        assert feed.transport == "waiting" and feed.long_poll == 15
        # Logged out through B while the feed waits on A: A is woken by B's commit.
        logout(second, sessions[0][1])
        until(lambda: feed.is_revoked(sessions[0][0]))

        # A stops while the feed waits on it; a logout through B meanwhile; A comes back.
        first.stop()
        logout(second, sessions[1][1])
        assert not feed.is_revoked(sessions[1][0])
        first.start()
        until(lambda: feed.is_revoked(sessions[1][0]))
        # And waiting again on A: the next logout through B arrives as before.
        logout(second, sessions[2][1])
        until(lambda: feed.is_revoked(sessions[2][0]))
        assert feed.fresh()
    finally:
        feed.stop()
