"""`python -m auth_server purge`: removes only what can never be used again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from auth_server.db import normalize_database_url
from tests.auth_server.helpers import PASSWORD, login, new_email, signup, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server, reset_token
from tests.support.smtp import SmtpSink, verification_code


@pytest.fixture(scope="module")
def purging(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("purge")
    with clocked_server(workdir, smtp_sink.port, login_max_failures=1) as running:
        yield running


def count(server: AuthServerProcess, table: str) -> int:
    engine = create_engine(normalize_database_url(server.database_url))
    with engine.connect() as connection:
        value = connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608
    engine.dispose()
    return int(value)


def test_purge_is_safe_any_time_and_removes_the_dead(
    purging: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = purging
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
        live = login(http, email)
        dead = login(http, email)
        http.post("/api/auth/logout", json={"refreshToken": dead["refreshToken"]})
        pending = new_email()
        assert signup(http, pending).status_code == 201
        code = verification_code(smtp_sink.wait_for(pending))
        http.post("/api/auth/forgot-password", json={"email": email})
        token = reset_token(smtp_sink.wait_for(email, count=2))
        locked = new_email()
        http.post("/api/auth/login", json={"email": locked, "password": "wrong password"})
        assert count(server, "login_locks") == 1

        # Now: nothing live is touched (the revoked session waits out its one-hour margin).
        assert "sessions 0" in server.run_command("purge")
        refreshed = http.post("/api/auth/refresh", json={"refreshToken": live["refreshToken"]})
        assert refreshed.status_code == 200
        live_refresh = refreshed.json()["data"]["refreshToken"]
        verified = http.post("/api/auth/verify-email", json={"email": pending, "code": code})
        assert verified.status_code == 200
        assert count(server, "password_resets") == 1 and count(server, "login_locks") == 1

        try:
            # Past every lifetime: lock 15 min, reset 1 h, sessions 30 days.
            clock.advance(31 * 86400)
            output = server.run_command("purge")
            assert "sessions 2" in output and "login_locks 1" in output
            assert "password_resets 1" in output
            for table in ("sessions", "refresh_tokens", "password_resets", "login_locks"):
                assert count(server, table) == 0, table
            assert count(server, "audit_events") > 0  # kept for AUDIT_RETENTION_DAYS
            # Again: nothing left to do, nothing breaks.
            assert "sessions 0" in server.run_command("purge")

            clock.advance(366 * 86400)
            server.run_command("purge")
            assert count(server, "audit_events") == 0
        finally:
            clock.reset()

        gone = http.post("/api/auth/refresh", json={"refreshToken": live_refresh})
        assert gone.status_code == 401
        expired = http.post("/api/auth/reset-password", json={"token": token, "password": "x" * 12})
        assert expired.status_code == 400 and expired.json()["code"] == "invalid_token"
        login(http, email, PASSWORD)
