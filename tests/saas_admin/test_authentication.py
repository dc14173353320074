"""The DRF authentication classes end to end: a DRF view, the real auth server, both modes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth import tokens
from rozitech_auth.client import AuthServerClient
from rozitech_auth.django.authentication import AuthToken, RemoteJWTAuthentication, reset_state
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from auth_server.models import User as AuthUser
from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.helpers import Account, bearer, new_account, now, remint
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.django_db

MODES = ["remote", "local"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """Moves the verification clock (rozitech_auth.tokens.now) forward by some seconds."""
    offset = [0.0]
    real = tokens.now
    monkeypatch.setattr(tokens, "now", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    yield advance


def cache_key(token: str, ttl: int, mode: str = "remote") -> str:
    return f"core.auth:v1:{mode}:{ttl}:{tokens.token_digest(token)}"


# -- both modes, end to end -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_valid_token_authenticates_and_syncs_the_local_user(
    mode: str, settings: Settings, api: APIClient, account: Account
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    response = api.get("/protected", headers=bearer(account.access_token))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == mode
    assert body["authUserId"] == account.user_id
    assert body["user"]["email"] == account.email
    assert body["role"] == "owner"
    assert body["organization"]["id"] == account.login_data["organization"]["id"]
    if mode == "remote":
        # Remote mode has the whole identity: names and licenses too.
        assert body["user"]["firstName"] == "Ann"
        assert body["licenses"]["teamspace"]["status"] == "trial"
    else:
        # The token carries no licenses; the local mode does not invent them.
        assert body["licenses"] is None
    user = get_user_model()._default_manager.get(auth_user_id=account.user_id)
    assert user.pk == body["user"]["id"]
    assert not user.has_usable_password()


def test_the_projects_verify_endpoint_uses_the_default_classes(
    settings: Settings, api: APIClient, account: Account
) -> None:
    settings.ROOT_URLCONF = "config.urls"
    assert api.get("/api/auth/verify").status_code in (401, 403)
    response = api.get("/api/auth/verify", headers=bearer(account.access_token))
    assert response.status_code == 200
    assert response.json()["user"]["id"] == account.user_id


def test_request_auth_carries_the_claims(account: Account) -> None:
    user, auth = RemoteJWTAuthentication().authenticate_credentials(account.access_token)
    assert isinstance(auth, AuthToken)
    assert auth == account.access_token  # still the raw token, as DRF callers expect
    assert auth.user_id == account.user_id
    assert auth.claims["sub"] == account.user_id
    assert auth.organization_id == account.login_data["organization"]["id"]
    assert auth.role == "owner"
    assert auth.has_license("teamspace") and not auth.has_license("insurance")
    assert user.auth_context is auth  # type: ignore[attr-defined]
    # Never the bearer credential in a repr (logs, tracebacks).
    assert account.access_token not in repr(auth)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),  # no credentials: the permission says 401 with the challenge
        ("Bearer", 401),
        ("Bearer a b", 401),
        ("Bearer not-a-jwt", 401),
        ("Bearer " + "a" * 9000, 401),
        ("Basic dXNlcjpwYXNz", 401),  # not ours: left to other classes, then 401
    ],
)
def test_missing_malformed_and_bad_headers(
    mode: str, header: str | None, status: int, settings: Settings, api: APIClient
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    headers = {"Authorization": header} if header is not None else {}
    response = api.get("/protected", headers=headers)
    assert response.status_code == status
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("mode", MODES)
def test_a_tampered_token_is_401(
    mode: str, settings: Settings, api: APIClient, account: Account
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    head, payload, signature = account.access_token.split(".")
    flipped = ("A" if signature[5] != "A" else "B").join([signature[:5], signature[6:]])
    response = api.get("/protected", headers=bearer(f"{head}.{payload}.{flipped}"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("mode", MODES)
def test_optional_authentication(
    mode: str, settings: Settings, api: APIClient, account: Account
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    assert api.get("/optional").json() == {"anonymous": True}
    assert api.get("/optional", headers=bearer("garbage.token.here")).json() == {"anonymous": True}
    body = api.get("/optional", headers=bearer(account.access_token)).json()
    assert body["anonymous"] is False
    assert body["authUserId"] == account.user_id


# -- the cache key: the WHOLE token ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_tokens_sharing_their_first_40_characters_map_to_their_own_users(
    mode: str, settings: Settings, api: APIClient, account: Account, other_account: Account
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    a, b = account.access_token, other_account.access_token
    # Same issuer, same key: the JWT header, hence the first 40+ characters, is identical.
    assert a[:40] == b[:40] and a != b
    for _ in range(2):  # the second round is served from the cache
        for acc in (account, other_account):
            body = api.get("/cached", headers=bearer(acc.access_token)).json()
            assert body["authUserId"] == acc.user_id
            assert body["user"]["email"] == acc.email


# -- remote mode: caching ----------------------------------------------------------------------


def test_remote_mode_caches_the_servers_answer(
    api: APIClient, account: Account, me_calls: list[str]
) -> None:
    for _ in range(5):
        assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    assert len(me_calls) == 1


def test_invalid_tokens_are_cached_briefly(
    api: APIClient, account: Account, me_calls: list[str], auth_server: AuthServerProcess
) -> None:
    # Well formed, unexpired, correctly signed, but its session does not exist: only the
    # server can say it is bad.
    forged = remint(auth_server, account.access_token, sid="00000000-0000-4000-8000-000000000000")
    for _ in range(5):
        assert api.get("/protected", headers=bearer(forged)).status_code == 401
    assert len(me_calls) == 1


def test_the_cache_entry_never_outlives_the_tokens_exp(
    api: APIClient, account: Account, auth_server: AuthServerProcess, me_calls: list[str]
) -> None:
    exp = now() + 3
    short = remint(auth_server, account.access_token, exp=exp)
    # CachedRemoteJWTAuthentication: a 300-second class TTL against 2-3 seconds of token life.
    assert api.get("/cached", headers=bearer(short)).status_code == 200
    key = cache_key(short, 300)
    assert cache.get(key) is not None
    while time.time() < exp + 1:
        time.sleep(0.2)
    # The cache backend itself has dropped it: its TTL was bounded by `exp`.
    assert cache.get(key) is None
    assert api.get("/cached", headers=bearer(short)).status_code == 401
    # The expired token was refused locally, without asking the server again.
    assert len(me_calls) == 1


@pytest.mark.parametrize("mode", MODES)
def test_an_expired_token_is_rejected_even_when_cached(
    mode: str,
    settings: Settings,
    api: APIClient,
    account: Account,
    me_calls: list[str],
    clock: Callable[[float], None],
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    assert api.get("/cached", headers=bearer(account.access_token)).status_code == 200
    exp = int(tokens.unverified_claims(account.access_token)["exp"])
    clock(exp - time.time() + 1)  # one second past `exp`
    if mode == "remote":
        assert cache.get(cache_key(account.access_token, 300)) is not None  # still cached
    response = api.get("/cached", headers=bearer(account.access_token))
    assert response.status_code == 401
    assert response.json()["message"] == "Token has expired"
    assert response.json()["code"] == "token_expired"
    assert len(me_calls) == (1 if mode == "remote" else 0)


def test_a_logout_is_seen_by_remote_mode_within_the_class_ttl(
    api: APIClient, account: Account
) -> None:
    client = AuthServerClient()
    assert api.get("/short-ttl", headers=bearer(account.access_token)).status_code == 200
    assert api.get("/cached", headers=bearer(account.access_token)).status_code == 200
    client.logout(account.refresh_token)
    # The 5-minute class still serves its cached answer: the documented trade-off.
    assert api.get("/cached", headers=bearer(account.access_token)).status_code == 200
    time.sleep(1.2)  # the 1-second class's TTL
    assert api.get("/short-ttl", headers=bearer(account.access_token)).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_misses_for_one_token_make_one_call(
    account: Account, me_calls: list[str]
) -> None:
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            user, _ = RemoteJWTAuthentication().authenticate_credentials(account.access_token)
            results.append(str(getattr(user, "auth_user_id", "")))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [account.user_id] * threads_count
    assert len(me_calls) == 1


# -- user sync -------------------------------------------------------------------------------


def change_in_auth_db(server: AuthServerProcess, user_id: str, **values: Any) -> None:
    """The auth server has no e-mail change endpoint yet: change its database directly."""
    import uuid

    engine = create_engine(server.database_url)
    try:
        with Session(engine) as db:
            db.execute(update(AuthUser).where(AuthUser.id == uuid.UUID(user_id)).values(**values))
            db.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", MODES)
def test_an_email_change_keeps_the_same_local_user(
    mode: str,
    settings: Settings,
    api: APIClient,
    auth_server: AuthServerProcess,
    smtp_sink: SmtpSink,
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    account = new_account(auth_server, smtp_sink)
    first = api.get("/protected", headers=bearer(account.access_token)).json()
    new_email = "changed-" + account.email
    change_in_auth_db(auth_server, account.user_id, email=new_email, first_name="Annie")
    # A new token (a new login) carries the new e-mail.
    token = AuthServerClient().login(new_email, PASSWORD)["accessToken"]
    second = api.get("/protected", headers=bearer(token)).json()
    assert second["user"]["id"] == first["user"]["id"]
    assert second["user"]["email"] == new_email
    users = get_user_model()._default_manager.filter(auth_user_id=account.user_id)
    assert users.count() == 1
    assert users.get().email == new_email
    if mode == "remote":
        assert second["user"]["firstName"] == "Annie"


@pytest.mark.parametrize("mode", MODES)
def test_no_query_on_the_steady_path_and_no_write_when_nothing_changed(
    mode: str,
    settings: Settings,
    api: APIClient,
    account: Account,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    with django_assert_num_queries(0):
        assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    # A new token of the same, unchanged member says what the last one said: its synced
    # user is reused (LocalUsers), not read again, and the mirror is not asked again.
    refreshed = AuthServerClient().refresh_token(account.refresh_token)
    token = refreshed["accessToken"]
    with django_assert_num_queries(0):
        assert api.get("/protected", headers=bearer(token)).status_code == 200
    # Synced again (the caches emptied, as after the TTL): the user and the membership are
    # read (core's sync, then the SaaS Admin's organization mirror), nothing is written.
    settings.AUTH_VERIFY_MODE = mode  # a settings change empties the caches
    token = AuthServerClient().refresh_token(refreshed["refreshToken"])["accessToken"]
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/protected", headers=bearer(token)).status_code == 200
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["SELECT", "SELECT"]


@pytest.mark.parametrize("mode", MODES)
def test_a_locally_deactivated_user_is_refused(
    mode: str, settings: Settings, api: APIClient, account: Account
) -> None:
    settings.AUTH_VERIFY_MODE = "local"
    assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    get_user_model()._default_manager.filter(auth_user_id=account.user_id).update(is_active=False)
    settings.AUTH_VERIFY_MODE = mode  # a settings change also empties the caches
    response = api.get("/protected", headers=bearer(account.access_token))
    if mode == "remote":
        # The auth server says the user is active: remote mode syncs the flag back.
        assert response.status_code == 200
    else:
        assert response.status_code == 401


# -- Redis: the remote cache shared by every process -----------------------------------------


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL (CI's second run does)"
)
def test_remote_entries_live_in_redis_for_every_process_with_a_bounded_ttl(
    api: APIClient, account: Account, auth_server: AuthServerProcess, me_calls: list[str]
) -> None:
    short = remint(auth_server, account.access_token, exp=now() + 30)
    assert api.get("/cached", headers=bearer(short)).status_code == 200
    assert 0 < cache.ttl(cache_key(short, 300)) <= 30  # type: ignore[attr-defined]
    assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    assert 0 < cache.ttl(cache_key(account.access_token, 60)) <= 60  # type: ignore[attr-defined]
    # Another process (a fresh process state, as on another replica) finds them in Redis.
    reset_state()
    assert api.get("/cached", headers=bearer(short)).status_code == 200
    assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    assert len(me_calls) == 2
