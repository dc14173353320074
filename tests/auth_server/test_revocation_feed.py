"""GET /api/auth/revocations: one event per revocation, in commit order, for services only."""

from __future__ import annotations

import ast
import json
import re
import stat
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session

from auth_server.clock import Clock
from auth_server.config import Settings, redis_channel
from auth_server.db import make_engine
from auth_server.revocations import ADVISORY_LOCK_KEY, RevocationPublisher, Revocations
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    drain_feed,
    feed_cursor,
    feed_page,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.databases import NEEDS_POSTGRES, temporary_database
from tests.support.lifecycle import REDIS_URL, TestClock, clocked_server, needs_redis, reset_token
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

TTL = 900  # ACCESS_TOKEN_TTL of every server here
MARGIN = 120  # REVOCATION_RETENTION_MARGIN's default: verifiers' leeway and clock skew
# The heavy tests' own servers: no per-IP limit in the way of many logins and logouts.
UNLIMITED = {"rate_limit_per_ip": "100000/minute", "login_max_failures": 1000}


@pytest.fixture(scope="module")
def feed_server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    """A server of this module's own: strict reuse detection, a movable clock, no limits."""
    workdir: Path = tmp_path_factory.mktemp("revocation-feed")
    with clocked_server(workdir, smtp_sink.port, refresh_reuse_grace=0, **UNLIMITED) as running:
        yield running


@pytest.fixture
def feed(feed_server: tuple[AuthServerProcess, TestClock]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=feed_server[0].base_url, timeout=30) as http:
        yield http


@pytest.fixture
def server(feed_server: tuple[AuthServerProcess, TestClock]) -> AuthServerProcess:
    return feed_server[0]


def since(
    client: httpx.Client, server: AuthServerProcess, cursor: str, user_id: str | None = None
) -> list[dict[str, Any]]:
    """The events after `cursor` (of one user, when given; other tests share the server)."""
    events = drain_feed(client, server, cursor)[0]
    return [e for e in events if user_id is None or e["sub"] == user_id]


def sid_of(session: dict[str, Any]) -> str:
    sid: str = unverified_claims(session["accessToken"])["sid"]
    return sid


def session_events(events: list[dict[str, Any]]) -> Counter[tuple[str | None, str]]:
    return Counter((e["sid"], e["reason"]) for e in events if e["type"] == "session")


def assert_well_formed(event: dict[str, Any]) -> None:
    assert set(event) == {
        "cursor",
        "type",
        "sub",
        "org",
        "sid",
        "issuedBefore",
        "reason",
        "revokedAt",
        "expiresAt",
    }
    assert event["cursor"].isdigit()
    revoked = datetime.fromisoformat(event["revokedAt"])
    expires = datetime.fromisoformat(event["expiresAt"])
    # It matters as long as the last access token it covers can verify somewhere: its
    # lifetime, plus the margin for verifiers' `exp` leeway and clock skew.
    assert (expires - revoked).total_seconds() == TTL + MARGIN
    # Session and user events name no organization (membership events: test_memberships).
    assert event["org"] is None
    if event["type"] == "session":
        assert event["sid"] and event["issuedBefore"] is None
    else:
        assert event["type"] == "user" and event["sid"] is None
        assert event["issuedBefore"] == int(revoked.timestamp())


# -- who may read it ---------------------------------------------------------------------


def test_feed_is_for_services_only(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    user = login(client, verified_user(client, smtp_sink))
    wrong_ones: list[dict[str, str]] = [
        {},
        {"X-Service-Token": ""},
        {"X-Service-Token": "not-the-token"},
        {"X-Service-Token": auth_server.service_token + "x"},
        {"X-Service-Token": auth_server.service_token[:-1]},
        # A user's access token is no service credential, in either header.
        bearer(user["accessToken"]),
        {"X-Service-Token": user["accessToken"]},
        # Nor is the service token a Bearer token.
        bearer(auth_server.service_token),
    ]
    for headers in wrong_ones:
        refused = client.get("/api/auth/revocations", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json() == {
            "success": False,
            "code": "invalid_service_token",
            "message": "A valid service token is required (X-Service-Token header)",
        }
        assert refused.headers["WWW-Authenticate"].startswith("ServiceToken ")
    ok = client.get("/api/auth/revocations", headers=auth_server.service_headers())
    assert ok.status_code == 200
    body = ok.json()
    assert body["success"] is True
    assert set(body["data"]) == {"events", "cursor", "hasMore"}
    assert isinstance(body["data"]["cursor"], str)
    assert ok.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("query", ["since=-1", "since=abc", "since=1.5", "limit=0", "limit=x"])
def test_bad_feed_queries_are_validation_errors(
    client: httpx.Client, auth_server: AuthServerProcess, query: str
) -> None:
    response = client.get(f"/api/auth/revocations?{query}", headers=auth_server.service_headers())
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_several_service_tokens_allow_a_rotation(tmp_path: Path) -> None:
    old, new = "o" * 40, "n" * 40
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(
            url, tmp_path, service_token=f" {old} , {new} ", rate_limit_per_ip="4/minute"
        ).migrate()
        server.start()
        try:
            with httpx.Client(base_url=server.base_url) as http:
                for token in (old, new, old):
                    headers = {"X-Service-Token": token}
                    assert http.get("/api/auth/revocations", headers=headers).status_code == 200
                statuses = [
                    http.get("/api/auth/revocations", headers={"X-Service-Token": t}).status_code
                    for t in ("o" * 39, f"{old},{new}", "x" * 40, "", "n" * 41)
                ]
                # Wrong tokens count against the IP; the fifth within a minute is refused.
                assert statuses == [401, 401, 401, 401, 429]
            assert "Service request refused (wrong X-Service-Token)" in server.log()
        finally:
            server.stop()


def test_development_token_is_generated_into_data_dir(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path, service_token="", environment="development")
        server.migrate()
        printed = server.run_command("service-token").strip()
        token_file = tmp_path / "service-token"
        # Generated once, 256 bits, readable by its owner only; printed again, unchanged.
        assert token_file.read_text().strip() == printed and len(printed) >= 43
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert server.run_command("service-token").strip() == printed
        server.start()
        try:
            with httpx.Client(base_url=server.base_url) as http:
                ok = http.get("/api/auth/revocations", headers={"X-Service-Token": printed})
                assert ok.status_code == 200
                assert http.get("/api/auth/revocations").status_code == 401
        finally:
            server.stop()


def test_production_refuses_to_start_without_a_service_token(tmp_path: Path) -> None:
    server = AuthServerProcess(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path)
    for token, complaint in (("", "SERVICE_TOKEN"), ("short", "at least 32 characters")):
        env = {
            **server.env,
            "ENVIRONMENT": "production",
            "JWT_PRIVATE_KEY": "configured",
            "SMTP_HOST": "smtp.example.com",
            "MFA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "SERVICE_TOKEN": token,
        }
        result = subprocess.run(
            [sys.executable, "-m", "auth_server", "serve"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert complaint in result.stderr
    assert not (tmp_path / "service-token").exists()  # never generated in production


# -- every revocation path writes exactly its event ----------------------------------------


def test_logout_and_session_revoke_write_session_events(
    feed: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    email = verified_user(feed, smtp_sink)
    first, second, third = (login(feed, email) for _ in range(3))
    user_id = first["user"]["id"]
    cursor = feed_cursor(feed, server)

    assert feed.post("/api/auth/logout", json={"refreshToken": first["refreshToken"]})
    events = since(feed, server, cursor, user_id)
    assert [(e["type"], e["sid"], e["reason"]) for e in events] == [
        ("session", sid_of(first), "logout")
    ]
    assert_well_formed(events[0])
    cursor = events[0]["cursor"]

    # Idempotent logout: no second event. A refresh or a login: no event at all.
    feed.post("/api/auth/logout", json={"refreshToken": first["refreshToken"]})
    feed.post("/api/auth/refresh", json={"refreshToken": second["refreshToken"]})
    login(feed, email)
    assert since(feed, server, cursor, user_id) == []

    revoked = feed.delete(
        f"/api/auth/sessions/{sid_of(third)}", headers=bearer(second["accessToken"])
    )
    assert revoked.status_code == 200
    events = since(feed, server, cursor, user_id)
    assert [(e["type"], e["sid"], e["reason"]) for e in events] == [
        ("session", sid_of(third), "revoked_by_user")
    ]
    assert int(events[0]["cursor"]) > int(cursor)


def test_logout_all_writes_a_user_event_and_one_per_session(
    feed: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    email = verified_user(feed, smtp_sink)
    sessions = [login(feed, email) for _ in range(3)]
    feed.post("/api/auth/logout", json={"refreshToken": sessions[0]["refreshToken"]})
    user_id = sessions[0]["user"]["id"]
    cursor = feed_cursor(feed, server)

    done = feed.post("/api/auth/logout-all", headers=bearer(sessions[1]["accessToken"]))
    assert done.json()["data"]["revokedSessions"] == 2
    events = since(feed, server, cursor, user_id)
    for event in events:
        assert_well_formed(event)
    # The two live sessions (not the one logged out before), and the user as a whole.
    assert session_events(events) == {
        (sid_of(sessions[1]), "logout_all"): 1,
        (sid_of(sessions[2]), "logout_all"): 1,
    }
    users = [e for e in events if e["type"] == "user"]
    assert len(users) == 1 and users[0]["reason"] == "logout_all"
    # Every token issued so far is below the cutoff or in a revoked session; a login right
    # after it (perhaps in the same second) gets a token the cutoff does not touch.
    fresh = login(feed, email)
    assert unverified_claims(fresh["accessToken"])["iat"] >= users[0]["issuedBefore"]
    for session in sessions:
        assert unverified_claims(session["accessToken"])["iat"] <= users[0]["issuedBefore"]


def test_password_change_revokes_the_other_sessions_only(
    feed: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    email = verified_user(feed, smtp_sink)
    current, other = login(feed, email), login(feed, email)
    cursor = feed_cursor(feed, server)
    changed = feed.post(
        "/api/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "another fine passphrase"},
        headers=bearer(current["accessToken"]),
    )
    assert changed.status_code == 200
    events = since(feed, server, cursor, current["user"]["id"])
    # No user event: the caller's session (and its tokens) stays alive.
    assert [(e["type"], e["sid"], e["reason"]) for e in events] == [
        ("session", sid_of(other), "password_changed")
    ]
    wrong = feed.post(
        "/api/auth/change-password",
        json={"currentPassword": "not it at all", "newPassword": "yet another passphrase"},
        headers=bearer(current["accessToken"]),
    )
    assert wrong.status_code == 400
    assert since(feed, server, events[-1]["cursor"], current["user"]["id"]) == []


def test_password_reset_revokes_everything(
    feed: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    email = verified_user(feed, smtp_sink)
    sessions = [login(feed, email) for _ in range(2)]
    cursor = feed_cursor(feed, server)
    assert feed.post("/api/auth/forgot-password", json={"email": email}).status_code == 200
    token = reset_token(smtp_sink.wait_for(email, count=2))
    assert since(feed, server, cursor, sessions[0]["user"]["id"]) == []
    done = feed.post(
        "/api/auth/reset-password", json={"token": token, "password": "a reset passphrase"}
    )
    assert done.status_code == 200
    events = since(feed, server, cursor, sessions[0]["user"]["id"])
    assert session_events(events) == {(sid_of(s), "password_reset"): 1 for s in sessions}
    assert [e["reason"] for e in events if e["type"] == "user"] == ["password_reset"]


def test_refresh_token_reuse_revokes_the_family_once(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, _clock = feed_server
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        first = login(http, verified_user(http, smtp_sink))
        second = http.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert second.status_code == 200
        cursor = feed_cursor(http, server)
        reused = http.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert reused.status_code == 401
        events = since(http, server, cursor)
        assert [(e["type"], e["sid"], e["reason"]) for e in events] == [
            ("session", sid_of(first), "refresh_token_reuse")
        ]
        # Presented again: the family is already dead, nothing new to announce.
        again = http.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert again.status_code == 401
        assert since(http, server, events[-1]["cursor"]) == []


def test_only_the_revocations_module_revokes_sessions() -> None:
    """No code path can revoke a session without its event: nothing else sets revoked_at."""
    offenders = []
    for path in (REPO_ROOT / "auth_server").rglob("*.py"):
        if path.name == "revocations.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "revoked_at":
                offenders.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and node.attr == "revoked_at"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


# -- cursor, paging, concurrency ----------------------------------------------------------


def test_paging_returns_every_event_once_in_order(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, _clock = feed_server
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
        start = feed_cursor(http, server)
        sessions = [login(http, email) for _ in range(7)]
        for session in sessions:
            http.post("/api/auth/logout", json={"refreshToken": session["refreshToken"]})
        pages = []
        cursor = start
        while True:
            page = feed_page(http, server, cursor, limit=3)
            pages.append(page)
            cursor = page["cursor"]
            if not page["hasMore"]:
                break
        assert [len(p["events"]) for p in pages] == [3, 3, 1]
        events = [e for p in pages for e in p["events"]]
        assert [e["sid"] for e in events] == [sid_of(s) for s in sessions]
        cursors = [int(e["cursor"]) for e in events]
        assert cursors == sorted(cursors) and len(set(cursors)) == 7
        assert [p["cursor"] for p in pages] == [p["events"][-1]["cursor"] for p in pages]
        # At the end the cursor stays put; a cursor beyond the end is no error.
        assert feed_page(http, server, cursor) == {"events": [], "cursor": cursor, "hasMore": False}
        assert feed_page(http, server, 10**12)["events"] == []
        # Absent or 0: every live event (a backfill).
        backfill = http.get("/api/auth/revocations", headers=server.service_headers())
        assert [e["cursor"] for e in backfill.json()["data"]["events"]][-7:] == [
            str(c) for c in cursors
        ]


def test_concurrent_logouts_are_all_seen_exactly_once(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Many logouts at once (on PostgreSQL: truly parallel transactions) while a reader
    pages through the feed: the reader sees each event once, none skipped."""
    server, _clock = feed_server
    count = 24
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        email = verified_user(http, smtp_sink)
        start = feed_cursor(http, server)

        def log_in(_: int) -> dict[str, Any]:
            with httpx.Client(base_url=server.base_url, timeout=60) as own:
                return login(own, email)

        with ThreadPoolExecutor(4) as pool:
            sessions = list(pool.map(log_in, range(count)))
    writers_done = threading.Event()
    seen: list[dict[str, Any]] = []

    def reader() -> None:
        with httpx.Client(timeout=60) as own:
            cursor = start
            while True:
                finished = writers_done.is_set()
                page = feed_page(own, server, cursor, limit=2)
                seen.extend(page["events"])
                cursor = page["cursor"]
                # One full pass after the writers finished, then stop.
                if finished and not page["hasMore"]:
                    return

    def logout(session: dict[str, Any]) -> int:
        with httpx.Client(timeout=60) as own:
            response = own.post(
                f"{server.base_url}/api/auth/logout",
                json={"refreshToken": session["refreshToken"]},
            )
            return response.status_code

    reading = threading.Thread(target=reader)
    reading.start()
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(logout, sessions)) == [200] * count
    writers_done.set()
    reading.join()
    assert Counter(e["sid"] for e in seen) == {sid_of(s): 1 for s in sessions}
    cursors = [int(e["cursor"]) for e in seen]
    assert cursors == sorted(cursors)


@NEEDS_POSTGRES
def test_an_event_that_commits_late_is_not_skipped(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """The PostgreSQL race: transaction A takes an id, B takes a higher one and would commit
    first, a reader sees B and moves past A. Here A is held open on purpose while B (a
    logout through the server) runs: B must wait, and the feed must return A, then B."""
    server, _clock = feed_server
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        email = verified_user(http, smtp_sink)
        early, late = login(http, email), login(http, email)
        cursor = feed_cursor(http, server)
        settings = Settings(access_token_ttl=TTL, environment="test", redis_url="")
        revocations = Revocations(settings, Clock(settings), RevocationPublisher(settings))
        engine = make_engine(server.database_url)
        try:
            with Session(engine) as db:
                # Transaction A: revokes `early` with its event, and does not commit yet.
                assert revocations.revoke_session(db, uuid.UUID(sid_of(early)), reason="logout")
                with ThreadPoolExecutor(1) as pool:
                    # Transaction B, in the server.
                    logout = pool.submit(
                        http.post, "/api/auth/logout", json={"refreshToken": late["refreshToken"]}
                    )
                    _wait_until_waiting_on_the_feed_lock(engine, logout)
                    assert feed_page(http, server, cursor)["events"] == []
                    db.commit()
                    assert logout.result().status_code == 200
        finally:
            engine.dispose()
        events = since(http, server, cursor)
        assert [e["sid"] for e in events] == [sid_of(early), sid_of(late)]


def _wait_until_waiting_on_the_feed_lock(engine: Any, logout: Any) -> None:
    """Until the server's transaction is queued on the advisory lock (polled, no timing)."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND ((classid::bigint << 32) | objid::bigint) = :key"
    )
    with engine.connect() as connection:
        while not connection.execute(query, {"key": ADVISORY_LOCK_KEY}).scalar_one():
            assert not logout.done(), "the logout finished without waiting for transaction A"
            connection.rollback()
            threading.Event().wait(0.02)


# -- expiry, purge, several servers, Redis -------------------------------------------------


def test_expired_events_leave_the_feed_and_purge_deletes_them(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = feed_server
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        session = login(http, verified_user(http, smtp_sink))
        http.post("/api/auth/logout", json={"refreshToken": session["refreshToken"]})
        before = drain_feed(http, server)[0]
        assert before[-1]["sid"] == sid_of(session)
        newest = int(before[-1]["cursor"])
        try:
            clock.advance(TTL // 2)
            # Halfway through its life this one stays (older events of earlier tests may go).
            server.run_command("purge")
            assert drain_feed(http, server)[0][-1]["sid"] == sid_of(session)
            clock.advance(TTL // 2 + 1)
            # Every access token it covers has expired, but a verifier with some `exp`
            # leeway (or a clock behind) may still accept one: the event stays.
            assert drain_feed(http, server)[0][-1]["sid"] == sid_of(session)
            server.run_command("purge")
            assert drain_feed(http, server)[0][-1]["sid"] == sid_of(session)
            clock.advance(MARGIN)  # no token it covers can verify anywhere now
            assert drain_feed(http, server)[0] == []
            purged = re.search(r"revocation_events (\d+)", server.run_command("purge"))
            assert purged and int(purged.group(1)) >= 1
            with database(server) as db:
                left = db.execute(text("SELECT COUNT(*) FROM revocation_events")).scalar_one()
            assert left == 0
            assert "revocation_events 0" in server.run_command("purge")
        finally:
            clock.reset()
        # The table is empty, yet a new event never reuses an id a reader may hold as cursor.
        again = login(http, session["user"]["email"])
        http.post("/api/auth/logout", json={"refreshToken": again["refreshToken"]})
        fresh = feed_page(http, server, newest)["events"]
        assert [e["sid"] for e in fresh] == [sid_of(again)]


def test_two_servers_on_one_database_serve_one_feed(
    feed_server: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    first, _clock = feed_server
    second = AuthServerProcess(
        first.database_url,
        tmp_path,
        smtp_sink.port,
        service_token=first.service_token,
        **UNLIMITED,
    ).start()
    try:
        with (
            httpx.Client(base_url=first.base_url, timeout=30) as via_first,
            httpx.Client(base_url=second.base_url, timeout=30) as via_second,
        ):
            email = verified_user(via_first, smtp_sink)
            on_first = login(via_first, email)
            start = feed_cursor(via_first, first)
            # Logged in through A, logged out through B; and the other way round.
            via_second.post("/api/auth/logout", json={"refreshToken": on_first["refreshToken"]})
            on_second = login(via_second, email)
            via_first.post("/api/auth/logout", json={"refreshToken": on_second["refreshToken"]})
            seen_by_first = drain_feed(via_first, first, start)[0]
            seen_by_second = drain_feed(via_second, second, start)[0]
            assert seen_by_first == seen_by_second
            assert [e["sid"] for e in seen_by_first] == [sid_of(on_first), sid_of(on_second)]
    finally:
        second.stop()


@needs_redis("publishing revocation events needs a Redis server")
def test_events_are_published_on_redis(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    url = REDIS_URL
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(database_url, tmp_path, smtp_sink.port, redis_url=url)
        server.migrate().start()
        subscriber = redis.Redis.from_url(url)
        pubsub = subscriber.pubsub()  # type: ignore[no-untyped-call]
        try:
            # The channel in the deployment's namespace (REDIS_PREFIX, database number).
            pubsub.subscribe(redis_channel(server.revocation_channel, "", url))
            assert pubsub.get_message(timeout=10)["type"] == "subscribe"
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                email = verified_user(http, smtp_sink)
                sessions = [login(http, email) for _ in range(2)]
                http.post("/api/auth/logout", json={"refreshToken": sessions[0]["refreshToken"]})
                http.post("/api/auth/logout-all", headers=bearer(sessions[1]["accessToken"]))
                published: list[dict[str, Any]] = []
                while len(published) < 3:
                    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
                    assert message is not None, "an event was not published"
                    published.append(json.loads(message["data"]))
                # Exactly what the feed says, after each commit.
                assert published == drain_feed(http, server)[0]
                assert [(e["type"], e["reason"]) for e in published] == [
                    ("session", "logout"),
                    ("session", "logout_all"),
                    ("user", "logout_all"),
                ]
        finally:
            pubsub.close()
            subscriber.close()
            server.stop()


def test_a_redis_outage_never_fails_a_revocation(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """Nothing listens on this port: every publish fails, every revocation succeeds and is
    in the feed, and the failure is logged."""
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(
            database_url,
            tmp_path,
            smtp_sink.port,
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            **UNLIMITED,
        )
        server.migrate().start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                session = login(http, verified_user(http, smtp_sink))
                out = http.post("/api/auth/logout", json={"refreshToken": session["refreshToken"]})
                assert out.status_code == 200
                me = http.get("/api/auth/me", headers=bearer(session["accessToken"]))
                assert me.status_code == 401
                assert [e["sid"] for e in drain_feed(http, server)[0]] == [sid_of(session)]
            assert "not published on Redis" in server.log()
        finally:
            server.stop()
