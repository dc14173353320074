"""Hybrid verification through a DRF view: local signatures plus the revocation feed.

Real auth server processes; the feed read by waiting requests (long polls) or polled, or its
Redis channel when REDIS_URL is set (a Redis of this test's own for the restart). Fakes: only
the clock (`rozitech_auth.tokens.now`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from django.test import RequestFactory
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth import tokens
from rozitech_auth.django import authentication
from rozitech_auth.revocations import RevocationFeed, RevocationSet, iso_epoch

from config.health import health as health_view
from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.conftest import fresh_login
from tests.saas_admin.helpers import Account, bearer, new_account, new_uuid, refused, remint
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import REDIS_URL, needs_redis
from tests.support.redis_process import RedisProcess, needs_redis_server
from tests.support.smtp import SmtpSink
from tests.support.waiting import until

pytestmark = pytest.mark.django_db

POLL = 0.2


@pytest.fixture(
    params=[
        "waiting",
        "polling",
        pytest.param("redis", marks=needs_redis("the channel is Redis pub/sub")),
    ]
)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hybrid(settings: Settings, auth_server: AuthServerProcess, transport: str) -> str:
    settings.AUTH_VERIFY_MODE = "hybrid"
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    settings.AUTH_REVOCATION_POLL_INTERVAL = POLL
    settings.AUTH_REVOCATION_CHANNEL = auth_server.revocation_channel
    if transport == "redis":
        settings.AUTH_REVOCATION_REDIS_URL = REDIS_URL
        # Slow polls (no safety read before the hang guard of `refused`): a refusal can
        # only come from the channel.
        settings.AUTH_REVOCATION_POLL_INTERVAL = 600
        settings.AUTH_REVOCATION_MAX_STALENESS = 1800
    else:
        settings.AUTH_REVOCATION_REDIS_URL = "none"
        # Without Redis: long polls (the default), or the plain poll of older versions.
        settings.AUTH_REVOCATION_WAIT = 0 if transport == "polling" else 15
    return transport


def feed() -> RevocationFeed:
    found = authentication._state.feed
    assert found is not None
    return found


def status(api: APIClient, token: str) -> int:
    return int(api.get("/protected", headers=bearer(token)).status_code)


def logout(server: AuthServerProcess, account: Account) -> None:
    response = httpx.post(
        f"{server.base_url}/api/auth/logout",
        json={"refreshToken": account.refresh_token},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_valid_accepted_then_refused_after_logout(
    hybrid: str, api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    assert status(api, account.access_token) == 200
    assert status(api, account.access_token) == 200  # cached: re-checked against the set
    response = api.get("/protected", headers=bearer(account.access_token))
    assert response.json()["mode"] == "hybrid"
    assert feed().transport == hybrid
    logout(auth_server, account)
    refused(api, account.access_token)
    assert status(api, account.access_token) == 401  # and stays refused


def test_logout_all_is_a_user_event(
    hybrid: str, api: APIClient, auth_server: AuthServerProcess, personas: dict[str, Account]
) -> None:
    first = fresh_login(auth_server, personas["bob"])
    second = fresh_login(auth_server, personas["bob"])
    assert status(api, first.access_token) == 200
    assert status(api, second.access_token) == 200
    response = httpx.post(
        f"{auth_server.base_url}/api/auth/logout-all",
        headers=bearer(first.access_token),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    refused(api, first.access_token)
    refused(api, second.access_token)
    # A token of a session the set never heard of, issued before the cutoff: the user
    # event ("iat < issuedBefore") alone refuses it.
    # (One second earlier than the session's own: the cutoff is the revocation's second,
    # which may be the login's.)
    iat = jwt.decode(first.access_token, options={"verify_signature": False})["iat"]
    older = remint(auth_server, first.access_token, sid=new_uuid(), jti=new_uuid(), iat=iat - 1)
    assert status(api, older) == 401
    # A login after the logout-all works (its iat is not before the cutoff).
    again = fresh_login(auth_server, personas["bob"])
    assert status(api, again.access_token) == 200


def test_password_change_ends_the_other_sessions_only(
    hybrid: str, api: APIClient, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    account = new_account(auth_server, smtp_sink)
    other = fresh_login(auth_server, account)
    assert status(api, account.access_token) == 200
    assert status(api, other.access_token) == 200
    response = httpx.post(
        f"{auth_server.base_url}/api/auth/change-password",
        headers=bearer(account.access_token),
        json={"currentPassword": PASSWORD, "newPassword": "another-long-passphrase-42"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    refused(api, other.access_token)
    assert status(api, account.access_token) == 200


def test_a_fresh_process_backfills_before_it_answers(
    hybrid: str, api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    logout(auth_server, account)
    authentication.reset_state()  # as a new worker: empty set, no thread yet
    # Refused on the very first request: it waits for the backfill (since=0).
    assert status(api, account.access_token) == 401
    assert feed().backfills >= 1


def test_entries_are_dropped_when_they_expire(
    hybrid: str,
    api: APIClient,
    account: Account,
    auth_server: AuthServerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert status(api, account.access_token) == 200
    logout(auth_server, account)
    refused(api, account.access_token)
    revoked = feed().revoked
    assert len(revoked) >= 1
    # Past every event's expiresAt (ACCESS_TOKEN_TTL after the revocation): all dropped.
    later = time.time() + 3600
    monkeypatch.setattr(tokens, "now", lambda: later)
    revoked.prune()
    assert len(revoked) == 0
    # ...and an event that has already expired is not even added.
    assert not revoked.apply(
        {
            "type": "session",
            "sid": new_uuid(),
            "sub": new_uuid(),
            "expiresAt": "2026-01-01T00:00:00Z",
        }
    )


def test_revocation_set_rules() -> None:
    revoked = RevocationSet()
    sub, sid = new_uuid(), new_uuid()
    expires = "2999-01-01T00:00:00+00:00"
    assert revoked.apply({"type": "user", "sub": sub, "issuedBefore": 100, "expiresAt": expires})
    assert revoked.apply({"type": "user", "sub": sub, "issuedBefore": 50, "expiresAt": expires})
    assert revoked.is_revoked({"sub": sub, "iat": 99})  # the later cutoff is kept
    assert not revoked.is_revoked({"sub": sub, "iat": 100})  # strictly before
    assert revoked.is_revoked({"sub": sub.upper(), "iat": 10})
    assert revoked.apply({"type": "session", "sid": sid, "sub": sub, "expiresAt": expires})
    assert revoked.is_revoked({"sid": sid, "sub": new_uuid(), "iat": 10**10})
    # Malformed or unknown events are ignored, never fatal.
    assert not revoked.apply({"type": "session", "expiresAt": expires})
    assert not revoked.apply({"type": "user", "sub": sub, "expiresAt": expires})
    assert not revoked.apply({"type": "tenant", "sub": sub, "expiresAt": expires})
    assert not revoked.apply({"type": "session", "sid": sid, "expiresAt": "yesterday"})


def health() -> dict[str, Any]:
    """The SaaS Admin's /health body (its view, called directly)."""
    response = health_view(RequestFactory().get("/health"))
    body: dict[str, Any] = json.loads(response.content)
    return body


def test_health_reports_the_revocation_set(hybrid: str) -> None:
    until(lambda: health()["revocations"] == "live", "the feed live")
    body = health()
    assert body["status"] == "healthy"
    assert body["revocationsVia"] == hybrid


# -- an auth server that stops ----------------------------------------------------------------


@pytest.fixture
def own_server(smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AuthServerProcess]:
    """An auth server of this test's own, which it may stop (never the shared one)."""
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(database_url, tmp_path, smtp_port=smtp_sink.port)
        server.migrate().start()
        yield server
        server.stop()


def use(settings: Settings, server: AuthServerProcess, **more: Any) -> None:
    settings.AUTH_VERIFY_MODE = "hybrid"
    settings.AUTH_SERVICE_URL = server.base_url
    settings.AUTH_JWT_ISSUER = server.base_url
    settings.AUTH_SERVICE_TOKEN = server.service_token
    settings.AUTH_REVOCATION_CHANNEL = server.revocation_channel
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_POLL_INTERVAL = POLL
    for name, value in more.items():
        setattr(settings, name, value)


def test_a_stopped_auth_server_then_remote_fallback_after_the_staleness_limit(
    settings: Settings,
    api: APIClient,
    own_server: AuthServerProcess,
    smtp_sink: SmtpSink,
) -> None:
    valid = new_account(own_server, smtp_sink)
    revoked = fresh_login(own_server, valid)
    use(settings, own_server, AUTH_REVOCATION_MAX_STALENESS=1.5)
    assert status(api, valid.access_token) == 200
    assert status(api, revoked.access_token) == 200
    logout(own_server, revoked)
    refused(api, revoked.access_token)
    own_server.stop()

    # Within the staleness limit: the set is trusted; no call is needed.
    assert status(api, valid.access_token) == 200
    assert status(api, revoked.access_token) == 401
    # Past it: remote verification, and the auth server is down: 503, never 401 or 200.
    until(lambda: health()["revocations"] == "stale", "the feed stale")
    for token in (valid.access_token, revoked.access_token):
        response = api.get("/protected", headers=bearer(token))
        assert response.status_code == 503
        assert int(response["Retry-After"]) >= 1
    assert health()["status"] == "degraded"

    own_server.start()
    until(lambda: health()["revocations"] == "live", "the feed live again")
    assert status(api, valid.access_token) == 200
    assert status(api, revoked.access_token) == 401


def test_a_feed_that_never_answered_is_not_trusted(
    settings: Settings, api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    """A wrong service credential: the set is never backfilled, so remote verification
    decides (the shared auth server is up: it accepts the valid token)."""
    use(settings, auth_server, AUTH_SERVICE_TOKEN="not-the-service-token")
    settings.AUTH_SERVICE_TIMEOUT = 0.5
    response = api.get("/protected", headers=bearer(account.access_token))
    assert response.status_code == 200
    assert response.json()["mode"] == "remote"


# -- Redis restarted --------------------------------------------------------------------------


@pytest.fixture
def redis_auth_server(
    smtp_sink: SmtpSink, tmp_path: Path, own_redis: RedisProcess
) -> Iterator[AuthServerProcess]:
    """An auth server of this test's own that publishes to the test's own Redis."""
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(
            database_url, tmp_path, smtp_port=smtp_sink.port, redis_url=own_redis.url
        )
        server.migrate().start()
        try:
            yield server
        finally:
            server.stop()


@needs_redis_server
def test_redis_restarted_no_revocation_is_missed(
    settings: Settings,
    api: APIClient,
    smtp_sink: SmtpSink,
    own_redis: RedisProcess,
    redis_auth_server: AuthServerProcess,
) -> None:
    first = new_account(redis_auth_server, smtp_sink)
    second = fresh_login(redis_auth_server, first)
    third = fresh_login(redis_auth_server, first)
    # Polls are rare (a safety read every 100 s, beyond the hang guard of `refused`): only
    # the channel, or the backfill after a resubscription, can refuse a token below.
    use(
        settings, redis_auth_server,
        AUTH_REVOCATION_REDIS_URL=own_redis.url,
        AUTH_REVOCATION_POLL_INTERVAL=60,
        AUTH_REVOCATION_MAX_STALENESS=300,
    )  # fmt: skip
    for account in (first, second, third):
        assert status(api, account.access_token) == 200
    assert health()["revocationsVia"] == "redis"
    logout(redis_auth_server, first)
    refused(api, first.access_token)

    own_redis.stop()
    until(lambda: feed().transport == "polling", "the feed polling")
    logout(redis_auth_server, second)  # published to nobody: Redis is down
    time.sleep(0.5)
    own_redis.start()
    until(lambda: feed().transport == "redis", "the feed on Redis again")
    # The backfill after the resubscription found the event the channel lost.
    refused(api, second.access_token)
    logout(redis_auth_server, third)
    refused(api, third.access_token)


@needs_redis_server
def test_redis_hung_the_feed_takes_over(
    settings: Settings,
    api: APIClient,
    smtp_sink: SmtpSink,
    own_redis: RedisProcess,
    redis_auth_server: AuthServerProcess,
) -> None:
    """A Redis stopped with SIGSTOP answers nothing and closes nothing: the subscriber's
    health check times out (REDIS_SOCKET_TIMEOUT) within a poll interval and the feed is
    polled; a logout (whose publish timed out on the server) is then refused by the polls."""
    try:
        account = new_account(redis_auth_server, smtp_sink)
        use(settings, redis_auth_server, AUTH_REVOCATION_REDIS_URL=own_redis.url)
        assert status(api, account.access_token) == 200
        until(lambda: feed().transport == "redis", "the feed on Redis")
        own_redis.hang()
        until(lambda: feed().transport == "polling", "the hung Redis given up for polls")
        logout(redis_auth_server, account)
        refused(api, account.access_token)
    finally:
        own_redis.resume()


# -- the backfill reads to the end; entries outlive the leeway (issue 20, items 5 and 6) --------


def test_ready_only_once_the_backfill_has_caught_up(
    settings: Settings, api: APIClient, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Page size 1 and more events than the old 50-page bound: the revocation at the end of
    the feed is known before the first request is answered."""
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(
            database_url, tmp_path, smtp_port=smtp_sink.port, revocation_page_size=1
        )
        server.migrate().start()
        try:
            victim = new_account(server, smtp_sink)
            admin = f"{server.base_url}/api/admin/users/{victim.user_id}"
            with httpx.Client(headers=server.service_headers(), timeout=10) as http:
                for _ in range(55):  # each disable of an active user is one feed event
                    assert http.post(f"{admin}/disable").status_code == 200
                    assert http.post(f"{admin}/enable").status_code == 200
            account = fresh_login(server, victim)
            logout(server, account)  # the newest event, on the last page
            # Slow polls: only the first backfill can have seen it.
            use(settings, server, AUTH_REVOCATION_POLL_INTERVAL=30)
            assert status(api, account.access_token) == 401
            assert feed().fetches == 1
        finally:
            authentication.reset_state()
            server.stop()


def test_entries_outlive_the_leeway(
    hybrid: str,
    settings: Settings,
    api: APIClient,
    account: Account,
    auth_server: AuthServerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a leeway, a logged-out token is still refused after its `exp`, for as long as
    the verifier would otherwise accept it."""
    settings.AUTH_JWT_LEEWAY = 60
    authentication.reset_state()
    assert status(api, account.access_token) == 200
    logout(auth_server, account)
    refused(api, account.access_token)
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    with httpx.Client(headers=auth_server.service_headers(), timeout=10) as http:
        events = http.get(f"{auth_server.base_url}/api/auth/revocations?since=0").json()
    (event,) = [e for e in events["data"]["events"] if e.get("sid") == claims["sid"]]
    # The latest `exp` a token of that session can have (the server adds its own margin).
    expires_at = iso_epoch(event["expiresAt"])
    assert expires_at is not None
    revoked = feed().revoked
    # Past `exp`, within the leeway: the token would verify, the entry must refuse it.
    monkeypatch.setattr(tokens, "now", lambda: claims["exp"] + 30)
    revoked.prune()
    assert status(api, account.access_token) == 401
    # Past the event's expiresAt, within the leeway after it: a covered token could still
    # verify, so the entry stays.
    monkeypatch.setattr(tokens, "now", lambda: expires_at + 30)
    revoked.prune()
    assert revoked.is_revoked(claims)
    # Once no covered token could verify (expiresAt + leeway + margin), it goes.
    monkeypatch.setattr(tokens, "now", lambda: expires_at + 60 + 60 + 1)
    revoked.prune()
    assert len(revoked) == 0
