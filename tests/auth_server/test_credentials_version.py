"""Issue 20: a login racing a password reset (or change, disable, logout-all) must not
leave a live session. The user's credentials version is bumped by each of them, checked
with the login's session insert, stored on the session, and checked at refresh and /me."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from auth_server.models import AuthSession
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import reset_token
from tests.support.smtp import SmtpSink

NEW_PASSWORD = "a brand new passphrase"
LOGINS = 16
ROUNDS = 3


@pytest.fixture(scope="module")
def server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    """A server of this module's own: no per-IP limit in the way of the parallel logins."""
    workdir: Path = tmp_path_factory.mktemp("credentials-version")
    with temporary_database(workdir) as url:
        running = AuthServerProcess(
            url,
            workdir,
            smtp_sink.port,
            rate_limit_per_ip="100000/minute",
            login_max_failures=100000,
        )
        running.migrate().start()
        yield running
        running.stop()


@pytest.fixture
def http(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        yield client


def is_live(http: httpx.Client, tokens: dict[str, Any]) -> bool:
    """Whether either of the session's tokens still works."""
    me = http.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    refreshed = http.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    return me.status_code == 200 or refreshed.status_code == 200


def race_a_reset(server: AuthServerProcess, email: str, token: str) -> list[httpx.Response]:
    """The reset, and LOGINS logins with the old password spread around its commit."""
    start = threading.Barrier(LOGINS + 1)

    def log_in(i: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=60) as other:
            start.wait()
            # Spread around the reset's commit (argon2 runs on both sides).
            time.sleep(i * 0.004)
            return other.post("/api/auth/login", json={"email": email, "password": PASSWORD})

    def reset_password() -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=60) as other:
            start.wait()
            body = {"token": token, "password": NEW_PASSWORD}
            return other.post("/api/auth/reset-password", json=body)

    with ThreadPoolExecutor(LOGINS + 1) as pool:
        reset = pool.submit(reset_password)
        logins = list(pool.map(log_in, range(LOGINS)))
    assert reset.result().status_code == 200
    return logins


def test_logins_racing_a_password_reset_leave_no_live_session(
    server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    for _ in range(ROUNDS):
        email = verified_user(http, smtp_sink)
        assert http.post("/api/auth/forgot-password", json={"email": email}).status_code == 200
        logins = race_a_reset(server, email, reset_token(smtp_sink.wait_for(email, count=2)))
        assert {r.status_code for r in logins} <= {200, 401}, [r.text for r in logins]
        # Whatever got 200 before, during or after the reset: none of it survives it.
        survivors = [r for r in logins if r.status_code == 200 and is_live(http, r.json()["data"])]
        assert survivors == []
        assert is_live(http, login(http, email, NEW_PASSWORD))


def resurrect(server: AuthServerProcess, tokens: dict[str, Any]) -> None:
    """Un-revokes a session, as if the revocation had not seen it (a login that committed
    at that very moment): only the credentials version can still refuse it."""
    sid = uuid.UUID(unverified_claims(tokens["accessToken"])["sid"])
    with database(server) as db:
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == sid)
            .values(revoked_at=None, revoke_reason=None)
        )
        db.commit()


def change_password(http: httpx.Client, caller: dict[str, Any]) -> None:
    body = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    changed = http.post(
        "/api/auth/change-password", json=body, headers=bearer(caller["accessToken"])
    )
    assert changed.status_code == 200, changed.text


def logout_all(http: httpx.Client, caller: dict[str, Any]) -> None:
    out = http.post("/api/auth/logout-all", headers=bearer(caller["accessToken"]))
    assert out.status_code == 200


@pytest.mark.parametrize("ending", [change_password, logout_all], ids=["change", "logout-all"])
def test_a_session_from_before_a_change_or_logout_all_stays_dead(
    http: httpx.Client,
    server: AuthServerProcess,
    smtp_sink: SmtpSink,
    ending: Callable[[httpx.Client, dict[str, Any]], None],
) -> None:
    email = verified_user(http, smtp_sink)
    older, caller = login(http, email), login(http, email)
    ending(http, caller)
    resurrect(server, older)
    assert not is_live(http, older)
    if ending is change_password:
        # The caller's own session lives on, under the new version.
        assert is_live(http, caller)


def test_a_session_from_before_a_disable_stays_dead_after_enable(
    http: httpx.Client, server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    older = login(http, email)
    user_id = older["user"]["id"]
    admin = server.service_headers()
    assert http.post(f"/api/admin/users/{user_id}/disable", headers=admin).status_code == 200
    assert http.post(f"/api/admin/users/{user_id}/enable", headers=admin).status_code == 200
    resurrect(server, older)
    assert not is_live(http, older)
    assert is_live(http, login(http, email))


def test_a_session_from_before_a_reset_stays_dead(
    http: httpx.Client, server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    older = login(http, email)
    assert http.post("/api/auth/forgot-password", json={"email": email}).status_code == 200
    token = reset_token(smtp_sink.wait_for(email, count=2))
    body = {"token": token, "password": NEW_PASSWORD}
    assert http.post("/api/auth/reset-password", json=body).status_code == 200
    resurrect(server, older)
    assert not is_live(http, older)
