"""Hybrid mode without Redis: the client's revocation feed reads the waiting feed.

Auth servers A and B on one database, no Redis; the client feed (rozitech_auth.revocations.
RevocationFeed, its real thread) long-polls A (30 s waits), logouts go through B. Only a
wake-up of A's waiting read can bring a logout to the feed within PATIENCE (a functional
bound, well below the wait): on PostgreSQL B's NOTIFY. A is also stopped in the middle of a
wait and started again: nothing revoked meanwhile is lost. Real processes, no fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import jwt
import pytest
from pytest_django.fixtures import Settings
from rozitech_auth import conf
from rozitech_auth.revocations import RevocationFeed

from tests.auth_server.helpers import login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import NEEDS_POSTGRES, temporary_database
from tests.support.smtp import SmtpSink
from tests.support.waiting import until

WAIT = 30
PATIENCE = 20


@pytest.fixture(scope="module")
def replicas(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AuthServerProcess]]:
    tmp_path: Path = tmp_path_factory.mktemp("waiting-client")
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


Session = tuple[dict[str, object], str]  # (access token claims, refresh token)


def logged_in(server: AuthServerProcess, email: str) -> Session:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        data = login(http, email)
    claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
    return claims, data["refreshToken"]


def logout(server: AuthServerProcess, refresh_token: str) -> None:
    response = httpx.post(
        f"{server.base_url}/api/auth/logout", json={"refreshToken": refresh_token}, timeout=10
    )
    assert response.status_code == 200


def feed_of(settings: Settings, server: AuthServerProcess) -> RevocationFeed:
    """A client feed reading `server`'s waiting feed, started and backfilled."""
    settings.AUTH_SERVICE_URL = server.base_url
    settings.AUTH_SERVICE_TOKEN = server.service_token
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_WAIT = WAIT
    settings.AUTH_REVOCATION_POLL_INTERVAL = 0.2
    # Trusted throughout an outage of A: only the feed's own answers matter here.
    settings.AUTH_REVOCATION_MAX_STALENESS = 300
    feed = RevocationFeed(conf.load())
    assert feed.fresh(wait=10)
    assert feed.transport == "waiting" and feed.long_poll == WAIT
    return feed


def new_sessions(server: AuthServerProcess, smtp_sink: SmtpSink, count: int) -> list[Session]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
    return [logged_in(server, email) for _ in range(count)]


@NEEDS_POSTGRES
def test_a_logout_through_b_reaches_a_feed_fed_by_a_by_notify(
    settings: Settings, replicas: list[AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    first, second = replicas
    # A listens: its newest-id check is idle, only B's NOTIFY can wake A's waiters.
    assert "Revocation wake-ups: listening" in first.log()
    sessions = new_sessions(first, smtp_sink, 2)
    feed = feed_of(settings, first)
    try:
        for claims, refresh in sessions:
            logout(second, refresh)
            until(partial(feed.is_revoked, claims), "the logout in the feed", PATIENCE)
        assert "listener lost" not in first.log()
    finally:
        feed.stop()


def test_a_feed_cut_off_mid_wait_loses_nothing(
    settings: Settings, replicas: list[AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    first, second = replicas
    sessions = new_sessions(first, smtp_sink, 3)
    feed = feed_of(settings, first)
    try:
        # Logged out through B while the feed waits on A: A is woken by B's commit.
        logout(second, sessions[0][1])
        until(lambda: feed.is_revoked(sessions[0][0]), "the logout in the feed", PATIENCE)

        # A stops while the feed waits on it; a logout through B meanwhile; A comes back.
        first.stop()
        logout(second, sessions[1][1])
        assert not feed.is_revoked(sessions[1][0])
        first.start()
        until(lambda: feed.is_revoked(sessions[1][0]), "the logout in the feed", PATIENCE)
        # And waiting again on A: the next logout through B arrives as before.
        logout(second, sessions[2][1])
        until(lambda: feed.is_revoked(sessions[2][0]), "the logout in the feed", PATIENCE)
        assert feed.fresh()
    finally:
        feed.stop()
