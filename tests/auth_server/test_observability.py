"""Observability of the auth server, as an operator sees it: /metrics scraped before and
after real logins, JSON log lines read from the real process's output, X-Request-ID on the
response, in the log and in the audit row, and the liveness and readiness probes."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, login, new_email, signup, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import postgres_server_url, temporary_database
from tests.support.lifecycle import reset_token
from tests.support.metrics import Samples, value
from tests.support.metrics import scrape as scrape_url
from tests.support.smtp import SmtpSink, verification_code


@pytest.fixture(scope="module")
def server(smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """JSON logs; /metrics open to no address here, so scrapes need the service credential;
    failed logins lock an address after two; a rotated refresh token is reuse at once."""
    workdir: Path = tmp_path_factory.mktemp("observability")
    with temporary_database(workdir) as url:
        process = AuthServerProcess(
            url,
            workdir,
            smtp_port=smtp_sink.port,
            log_format="json",
            metrics_allowed_networks="192.0.2.0/24",
            login_max_failures=2,
            refresh_reuse_grace=0,
        )
        process.migrate().start()
        yield process
        process.stop()


@pytest.fixture
def client(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


def scrape(server: AuthServerProcess) -> Samples:
    return scrape_url(f"{server.base_url}/metrics", server.service_headers())


def log_lines(server: AuthServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def request_lines(server: AuthServerProcess, request_id: str) -> list[dict[str, Any]]:
    """The JSON lines of one request, once its request line is written (just after the
    response is sent, so a moment after the client has it)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log_lines(server) if line.get("request_id") == request_id]
        if any(line["event"] == "request" for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_counters_move_with_logins_refreshes_lockouts_and_mails(
    server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    before = scrape(server)
    email = verified_user(client, smtp_sink)
    tokens = login(client, email)
    wrong = {"email": email, "password": "not-the-password-1"}
    assert client.post("/api/auth/login", json=wrong).status_code == 401
    refreshed = client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200
    # The rotated token again, with no grace window: reuse, the family is revoked.
    reused = client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert reused.status_code == 401
    # The second failure locks the address; the next attempt is refused by the lock.
    assert client.post("/api/auth/login", json=wrong).status_code == 429
    assert client.post("/api/auth/login", json=wrong).status_code == 429
    after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("auth_logins_total", outcome="success") == 1
    assert moved("auth_logins_total", outcome="failure") == 2
    assert moved("auth_logins_total", outcome="locked") == 1
    assert moved("auth_lockouts_total") == 1
    assert moved("auth_refreshes_total", outcome="success") == 1
    assert moved("auth_refreshes_total", outcome="reuse") == 1
    assert moved("auth_refresh_token_reuse_total") == 1
    assert moved("auth_emails_total", result="sent") == 1  # the verification code
    login_ok = {"handler": "/api/auth/login", "method": "POST", "status": "200"}
    assert moved("http_requests_total", **login_ok) == 1
    assert moved("http_request_duration_seconds_count", **login_ok) == 1
    assert value(after, "auth_signing_key_age_seconds") >= 0


def test_metrics_outside_the_allowed_networks_need_the_service_credential(
    server: AuthServerProcess,
) -> None:
    refused = httpx.get(f"{server.base_url}/metrics")
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_service_token"
    wrong = httpx.get(f"{server.base_url}/metrics", headers={"X-Service-Token": "x" * 40})
    assert wrong.status_code == 401
    assert "auth_logins_total" not in wrong.text


def test_a_request_id_is_returned_logged_and_audited(
    server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    request_id = f"req-{uuid.uuid4()}"
    response = client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id
    user_id = response.json()["data"]["user"]["id"]

    lines = request_lines(server, request_id)
    (request_line,) = [line for line in lines if line["event"] == "request"]
    assert request_line["method"] == "POST"
    assert request_line["path"] == "/api/auth/login"
    assert request_line["status"] == 200
    assert request_line["user_id"] == user_id
    assert request_line["client"] == "127.0.0.1"
    assert request_line["duration_ms"] >= 0
    assert request_line["level"] == "info" and request_line["timestamp"]

    out = server.run_command("audit", "--user", email, "--event", "login", "--json")
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["requestId"] == request_id


@pytest.mark.parametrize(
    "presented",
    ["short", "x" * 129, "has space in it", 'quote"and<angle>', "unicode-ü-id-12345"],
)
def test_a_malformed_request_id_is_replaced(server: AuthServerProcess, presented: str) -> None:
    response = httpx.get(
        f"{server.base_url}/health/live", headers={b"X-Request-ID": presented.encode()}
    )
    assert response.status_code == 200
    returned = response.headers["X-Request-ID"]
    assert returned != presented
    assert re.fullmatch(r"[0-9a-f]{32}", returned)


def test_a_request_without_an_id_gets_one(server: AuthServerProcess) -> None:
    first = httpx.get(f"{server.base_url}/health/live").headers["X-Request-ID"]
    second = httpx.get(f"{server.base_url}/health/live").headers["X-Request-ID"]
    assert first != second
    assert request_lines(server, first)


def test_no_password_token_code_or_secret_reaches_the_log(
    server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    """Sign-up, verification, login, refresh, reset and change of password: every secret
    that crossed the wire is then looked for in the process's whole output."""
    email = new_email()
    assert signup(client, email).status_code == 201
    code = verification_code(smtp_sink.wait_for(email))
    assert client.post("/api/auth/verify-email", json={"email": email, "code": code}).is_success
    tokens = login(client, email)
    refreshed = client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200
    assert client.post("/api/auth/forgot-password", json={"email": email}).is_success
    reset = reset_token(smtp_sink.wait_for(email, count=2))
    new_password = f"reset-{uuid.uuid4().hex}"
    body = {"token": reset, "password": new_password}
    assert client.post("/api/auth/reset-password", json=body).is_success
    final = login(client, email, new_password)
    changed = f"changed-{uuid.uuid4().hex}"
    last = f"last-{uuid.uuid4()}"
    response = client.post(
        "/api/auth/change-password",
        json={"currentPassword": new_password, "newPassword": changed},
        headers={"Authorization": f"Bearer {final['accessToken']}", "X-Request-ID": last},
    )
    assert response.status_code == 200, response.text
    assert request_lines(server, last)  # the whole flow is in the log

    secrets = {
        "password": PASSWORD,
        "verification code": code,
        "access token": tokens["accessToken"],
        "refresh token": tokens["refreshToken"],
        "rotated refresh token": refreshed.json()["data"]["refreshToken"],
        "reset token": reset,
        "new password": new_password,
        "changed password": changed,
        "final access token": final["accessToken"],
        "service token": server.service_token,
    }
    output = server.log()
    leaked = [name for name, secret in secrets.items() if secret in output]
    assert not leaked


def test_liveness_and_readiness(server: AuthServerProcess) -> None:
    live = httpx.get(f"{server.base_url}/health/live")
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    ready = httpx.get(f"{server.base_url}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["database"] == "connected"
    # /health itself is unchanged.
    assert httpx.get(f"{server.base_url}/health").json()["status"] == "healthy"


def test_readiness_is_503_once_the_database_is_gone(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """PostgreSQL: the database is dropped (WITH (FORCE)) under the running server. SQLite
    (which would create a missing file again): the database's folder does not exist."""
    if postgres_server_url() is None:
        server = AuthServerProcess(f"sqlite:///{tmp_path / 'missing' / 'auth.sqlite3'}", tmp_path)
        server.start_unhealthy()
    else:
        with temporary_database(tmp_path) as url:
            server = AuthServerProcess(url, tmp_path, smtp_port=smtp_sink.port).migrate()
            server.start()
            assert httpx.get(f"{server.base_url}/health/ready").status_code == 200
        # Leaving the block dropped the database, ending the server's connections.
    try:
        ready = httpx.get(f"{server.base_url}/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unready"
        assert ready.json()["database"] == "disconnected"
        # The process itself still answers: no restart for an outage of its database.
        assert httpx.get(f"{server.base_url}/health/live").status_code == 200
    finally:
        server.stop()
