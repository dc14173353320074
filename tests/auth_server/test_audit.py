"""The audit log: every security event recorded, readable by command, free of secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from auth_server.db import normalize_database_url
from tests.auth_server.helpers import PASSWORD, bearer, new_email, signup
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import reset_token
from tests.support.smtp import SmtpSink, verification_code

AGENT = "audit-test/1.0"
NEW_PASSWORD = "another long passphrase"
CHANGED_PASSWORD = "a third long passphrase"
WRONG_PASSWORD = "definitely-wrong-guess"


@pytest.fixture(scope="module")
def audited(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("audit")
    with temporary_database(workdir) as url:
        # No reuse grace, so a replayed refresh token is a reuse at once; a quick lockout;
        # routine refreshes recorded too (AUDIT_REFRESH, off by default).
        server = AuthServerProcess(
            url,
            workdir,
            smtp_sink.port,
            refresh_reuse_grace=0,
            login_max_failures=2,
            audit_refresh="true",
        )
        server.migrate().start()
        yield server
        server.stop()


def events_of(server: AuthServerProcess, *args: str) -> list[dict[str, Any]]:
    output = server.run_command("audit", "--json", "--limit", "1000", *args)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_every_security_event_is_recorded_without_secrets(
    audited: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, CHANGED_PASSWORD, WRONG_PASSWORD]
    email = new_email()

    def remember(data: dict[str, Any]) -> dict[str, Any]:
        secrets.extend(v for k, v in data.items() if k in ("accessToken", "refreshToken"))
        return data

    with httpx.Client(base_url=audited.base_url, timeout=30, headers={"User-Agent": AGENT}) as http:

        def log_in(password: str) -> dict[str, Any]:
            response = http.post("/api/auth/login", json={"email": email, "password": password})
            assert response.status_code == 200, response.text
            return remember(response.json()["data"])

        assert signup(http, email).status_code == 201
        code = verification_code(smtp_sink.wait_for(email))
        secrets.append(code)
        wrong_code = "000000" if code != "000000" else "111111"
        http.post("/api/auth/verify-email", json={"email": email, "code": wrong_code})
        assert http.post("/api/auth/verify-email", json={"email": email, "code": code}).is_success

        bad = http.post("/api/auth/login", json={"email": email, "password": WRONG_PASSWORD})
        assert bad.status_code == 401
        first = log_in(PASSWORD)
        rotated = remember(
            http.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]}).json()[
                "data"
            ]
        )
        reuse = http.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert reuse.status_code == 401
        assert rotated["refreshToken"]

        second = log_in(PASSWORD)
        assert http.post(
            "/api/auth/logout", json={"refreshToken": second["refreshToken"]}
        ).is_success

        assert http.post("/api/auth/forgot-password", json={"email": email}).is_success
        token = reset_token(smtp_sink.wait_for(email, count=2))
        secrets.append(token)
        reset = http.post(
            "/api/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
        )
        assert reset.is_success

        third = log_in(NEW_PASSWORD)
        changed = http.post(
            "/api/auth/change-password",
            headers=bearer(third["accessToken"]),
            json={"currentPassword": NEW_PASSWORD, "newPassword": CHANGED_PASSWORD},
        )
        assert changed.is_success
        fourth = log_in(CHANGED_PASSWORD)
        sessions = http.get("/api/auth/sessions", headers=bearer(fourth["accessToken"]))
        third_id = next(s["id"] for s in sessions.json()["data"]["sessions"] if not s["current"])
        revoked = http.delete(
            f"/api/auth/sessions/{third_id}", headers=bearer(fourth["accessToken"])
        )
        assert revoked.is_success
        assert http.post("/api/auth/logout-all", headers=bearer(fourth["accessToken"])).is_success

        for _ in range(2):
            http.post("/api/auth/login", json={"email": email, "password": WRONG_PASSWORD})
        locked = http.post("/api/auth/login", json={"email": email, "password": CHANGED_PASSWORD})
        assert locked.status_code == 429

    audited.run_command("rotate-keys")

    events = events_of(audited, "--user", email)
    names = [e["event"] for e in events]
    for expected in (
        "signup",
        "email_verified",
        "login",
        "login_failed",
        "refresh",
        "refresh_token_reuse",
        "logout",
        "password_reset_requested",
        "password_reset_completed",
        "password_changed",
        "session_revoked",
        "logout_all",
        "lockout",
    ):
        assert expected in names, f"no {expected} event in {names}"
    outcomes = {(e["event"], e["outcome"]) for e in events}
    assert ("email_verified", "failure") in outcomes and ("login_failed", "failure") in outcomes
    assert ("login_failed", "locked") in outcomes
    for event in events:
        assert event["time"] and event["outcome"]
        assert event["ip"] == "127.0.0.1" and event["userAgent"] == AGENT
    user_ids = {e["userId"] for e in events}
    assert len(user_ids) == 1 and None not in user_ids  # all tied to the account
    assert "key_rotated" in [e["event"] for e in events_of(audited, "--event", "key_rotated")]

    # Filters: by time (nothing in the future) and by event.
    assert events_of(audited, "--user", email, "--since", "2999-01-01") == []
    only_logins = events_of(audited, "--user", email, "--event", "login")
    assert only_logins and {e["event"] for e in only_logins} == {"login"}

    # No password, token or code anywhere in the table's text.
    engine = create_engine(normalize_database_url(audited.database_url))
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event, outcome, email, ip_address, user_agent, details FROM audit_events")
        ).all()
    engine.dispose()
    dump = json.dumps([[str(value) for value in row] for row in rows])
    assert len(rows) >= len(events)
    for secret in secrets:
        assert secret not in dump


def test_audit_command_rejects_a_bad_time(audited: AuthServerProcess) -> None:
    with pytest.raises(RuntimeError, match="not a time"):
        audited.run_command("audit", "--since", "yesterday-ish")
