"""The waiting feed: GET /api/auth/revocations?since=N&wait=S (long polling).

Two auth server processes on one database (no Redis): a read waiting on A is answered with
an event committed through A itself (in-process wake-up) or through B (PostgreSQL
LISTEN/NOTIFY; on SQLite the newest-id check). Waits are started in a thread and ended by
the logout; what is asserted is the answer, never a duration.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from auth_server.db import make_engine
from auth_server.revocation_notify import APPLICATION_NAME
from tests.auth_server.helpers import (
    feed_cursor,
    feed_page,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import NEEDS_POSTGRES, postgres_server_url, temporary_database
from tests.support.lifecycle import REDIS_URL, needs_redis
from tests.support.smtp import SmtpSink

UNLIMITED = {"rate_limit_per_ip": "100000/minute", "login_max_failures": 1000}
# The server's wait, and the client's patience, well below it: only a wake-up (an event
# or a stop), not the end of the wait, can answer in time (a functional bound, not a
# performance figure).
LONG = 30
PATIENCE = 20


@pytest.fixture(scope="module")
def replicas(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, AuthServerProcess]]:
    """Replicas A and B of one deployment (one database, one credential), without Redis."""
    workdir: Path = tmp_path_factory.mktemp("waiting-feed")
    shared = {"service_token": f"waiting-{uuid.uuid4().hex}{uuid.uuid4().hex}", **UNLIMITED}
    with temporary_database(workdir) as url:
        # One data dir (one development signing key), a log each.
        first = AuthServerProcess(url, workdir, smtp_sink.port, redis_url="", **shared)
        first.migrate().start()
        second = AuthServerProcess(url, workdir, smtp_sink.port, redis_url="", **shared)
        second.log_path = workdir / "server-b.log"
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
            first.stop()


def current_cursor(server: AuthServerProcess) -> str:
    """The feed's current end on `server`."""
    with httpx.Client() as http:
        return feed_cursor(http, server)


def read(server: AuthServerProcess, since: str, wait: float, timeout: float = 60) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/api/auth/revocations",
        params={"since": since, "wait": wait},
        headers=server.service_headers(),
        timeout=timeout,
    )


def waiting_read(server: AuthServerProcess, since: str) -> tuple[ThreadPoolExecutor, Future[Any]]:
    """A read that waits (LONG seconds, PATIENCE for an answer) on `server`, started in a
    thread; returned once it is in
    flight (a short pause: if it were not yet waiting, it would find the event at once and
    the assertions would hold all the same)."""
    pool = ThreadPoolExecutor(1)
    pending = pool.submit(read, server, since, LONG, PATIENCE)
    threading.Event().wait(0.5)
    assert not pending.done(), "the read did not wait"
    return pool, pending


def logout_new_session(
    server: AuthServerProcess, smtp_sink: SmtpSink
) -> tuple[dict[str, Any], httpx.Response]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        session = login(http, verified_user(http, smtp_sink))
        done = http.post("/api/auth/logout", json={"refreshToken": session["refreshToken"]})
    assert done.status_code == 200
    return session, done


def sid_of(session: dict[str, Any]) -> str:
    sid: str = unverified_claims(session["accessToken"])["sid"]
    return sid


def test_a_wait_ends_with_the_event_committed_on_the_same_server(
    replicas: tuple[AuthServerProcess, AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    first, _second = replicas
    cursor = current_cursor(first)
    # Two readers at the same cursor (woken together, they share one database read).
    waits = [waiting_read(first, cursor) for _ in range(2)]
    session, _ = logout_new_session(first, smtp_sink)
    for pool, pending in waits:
        with pool:
            answer = pending.result()
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        data = answer.json()["data"]
        assert [(e["sid"], e["reason"]) for e in data["events"]] == [(sid_of(session), "logout")]
        assert data["cursor"] == data["events"][-1]["cursor"] and data["hasMore"] is False


def test_a_wait_on_one_replica_ends_with_an_event_committed_on_the_other(
    replicas: tuple[AuthServerProcess, AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    """Waiting on A, logout through B: A learns of B's commit by PostgreSQL NOTIFY (on
    PostgreSQL: A's log says its listener is connected, so its id check is idle), or by the
    newest-id check on SQLite."""
    first, second = replicas
    if postgres_server_url() is not None:
        assert "Revocation wake-ups: listening" in first.log()
    cursor = current_cursor(first)
    pool, pending = waiting_read(first, cursor)
    with pool:
        session, _ = logout_new_session(second, smtp_sink)
        answer = pending.result()
    assert answer.status_code == 200
    assert [e["sid"] for e in answer.json()["data"]["events"]] == [sid_of(session)]


def test_a_waiter_cut_off_mid_wait_loses_nothing(
    replicas: tuple[AuthServerProcess, AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    """The client gives up on a waiting read (its timeout); events committed before it
    reads again are all in its next answer, which does not wait."""
    first, second = replicas
    cursor = current_cursor(first)
    with pytest.raises(httpx.ReadTimeout):
        read(first, cursor, LONG, timeout=0.5)
    sessions = [logout_new_session(server, smtp_sink)[0] for server in (first, second)]
    answer = read(first, cursor, LONG)
    assert answer.status_code == 200
    assert [e["sid"] for e in answer.json()["data"]["events"]] == [sid_of(s) for s in sessions]
    # The abandoned wait did the server no harm: it still waits and answers.
    pool, pending = waiting_read(first, answer.json()["data"]["cursor"])
    with pool:
        session, _ = logout_new_session(first, smtp_sink)
        assert [e["sid"] for e in pending.result().json()["data"]["events"]] == [sid_of(session)]


def test_a_wait_with_nothing_new_ends_with_an_empty_page(
    replicas: tuple[AuthServerProcess, AuthServerProcess],
) -> None:
    first, _second = replicas
    cursor = current_cursor(first)
    answer = read(first, cursor, 0.5)
    assert answer.status_code == 200
    assert answer.json()["data"] == {"events": [], "cursor": cursor, "hasMore": False}


def test_the_plain_poll_still_answers_at_once(
    replicas: tuple[AuthServerProcess, AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    first, _second = replicas
    with httpx.Client() as http:
        cursor = feed_cursor(http, first)
        # Nothing new: an empty page, not a wait (old clients poll without `wait`).
        assert feed_page(http, first, cursor) == {"events": [], "cursor": cursor, "hasMore": False}
        session, _ = logout_new_session(first, smtp_sink)
        page = feed_page(http, first, cursor)
    assert [e["sid"] for e in page["events"]] == [sid_of(session)]
    answer = read(first, cursor, 0)  # wait=0 is the plain poll too
    assert answer.json()["data"] == page


@pytest.mark.parametrize("wait", ["-1", "30.5", "31", "abc", "nan"])
def test_a_wait_out_of_range_is_a_validation_error(
    replicas: tuple[AuthServerProcess, AuthServerProcess], wait: str
) -> None:
    first, _second = replicas
    response = httpx.get(
        f"{first.base_url}/api/auth/revocations",
        params={"since": 0, "wait": wait},
        headers=first.service_headers(),
        timeout=10,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["code"] == "validation_error"
    assert "wait" in body["errors"]


def test_answered_feed_reads_stay_out_of_the_access_log(
    replicas: tuple[AuthServerProcess, AuthServerProcess],
) -> None:
    """Each SaaS Admin worker keeps a read open: a line per answer would be noise. A
    refused one is still logged."""
    first, _second = replicas
    assert read(first, "0", 0.1).status_code == 200
    refused = httpx.get(f"{first.base_url}/api/auth/revocations", timeout=10)
    assert refused.status_code == 401
    # A request's line is written just after its response is sent, and a read may catch
    # it half-written: wait for the refusal's whole line (LOG_FORMAT=console: key=value).
    request_id = f"request_id={refused.headers['X-Request-ID']}"
    deadline = time.monotonic() + 10
    while True:
        feed_lines = [line for line in first.log().splitlines() if "/api/auth/revocations" in line]
        refusals = [line for line in feed_lines if request_id in line and "status=401" in line]
        if refusals or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # The answered read came before the refusal: its line, had it one, is there too.
    assert not [line for line in feed_lines if "status=200" in line], feed_lines
    assert refusals, feed_lines


@NEEDS_POSTGRES
def test_a_lost_listener_connection_misses_nothing(
    replicas: tuple[AuthServerProcess, AuthServerProcess], smtp_sink: SmtpSink
) -> None:
    """The LISTEN connections are cut (a real fault: pg_terminate_backend); a logout
    through B still reaches a read waiting on A (by the id check while A reconnects, or
    by the wake-up of every waiter once it listens again)."""
    first, second = replicas
    engine = make_engine(first.database_url)
    try:
        with engine.connect() as connection:
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
    finally:
        engine.dispose()
    assert cut == 2  # one per server
    cursor = current_cursor(first)
    pool, pending = waiting_read(first, cursor)
    with pool:
        session, _ = logout_new_session(second, smtp_sink)
        answer = pending.result()
    assert [e["sid"] for e in answer.json()["data"]["events"]] == [sid_of(session)]
    assert "Revocation wake-ups: listener lost" in first.log()


def test_stopping_the_server_answers_its_waiters(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """A stop (SIGTERM) answers a waiting read with an empty page at once, instead of
    holding the graceful shutdown for the rest of its wait (or cutting it off)."""
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path, smtp_sink.port, redis_url="").migrate()
        server.start()
        try:
            pool, pending = waiting_read(server, "0")
            with pool:
                server.stop()
                answer = pending.result()
            assert answer.status_code == 200
            assert answer.json()["data"] == {"events": [], "cursor": "0", "hasMore": False}
        finally:
            server.stop()


@needs_redis("the wake-ups between replicas come through the Redis channel")
def test_on_sqlite_with_redis_a_wait_is_woken_by_the_channel(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """SQLite (whatever the suite's database) and Redis: replica A waits, the logout goes
    through B, which publishes the event; A's Redis listener wakes the read (it is
    connected, so the newest-id check is idle)."""
    shared = {
        "service_token": f"redis-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "redis_url": REDIS_URL,
        "revocation_channel": f"test-revocations-{uuid.uuid4().hex}",
        **UNLIMITED,
    }
    url = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    first = AuthServerProcess(url, tmp_path, smtp_sink.port, **shared).migrate().start()
    second = AuthServerProcess(url, tmp_path, smtp_sink.port, **shared)
    second.log_path = tmp_path / "server-b.log"
    try:
        second.start()
        assert "Revocation wake-ups: listening" in first.log()
        pool, pending = waiting_read(first, "0")
        with pool:
            session, _ = logout_new_session(second, smtp_sink)
            answer = pending.result()
        assert [e["sid"] for e in answer.json()["data"]["events"]] == [sid_of(session)]
    finally:
        second.stop()
        first.stop()
