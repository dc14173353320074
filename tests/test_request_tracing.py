"""One request followed across both services, and the SaaS Admin's metrics and probes.

Real processes, JSON logs: a request id sent to the SaaS Admin comes back on its response,
is on its log lines, reaches the auth server with the SaaS Admin's call, is on the auth
server's log line of that call and in the audit row it wrote.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.helpers import new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.metrics import counted_by_process, scrape, value
from tests.support.saas_process import SaasAdminProcess, saas_database
from tests.support.smtp import SmtpSink

System = tuple[AuthServerProcess, SaasAdminProcess]


@pytest.fixture(scope="module")
def system(smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    workdir: Path = tmp_path_factory.mktemp("request-tracing")
    with temporary_database(workdir) as url, saas_database(workdir) as saas_url:
        auth = AuthServerProcess(url, workdir, smtp_port=smtp_sink.port, log_format="json")
        auth.migrate().start()
        saas = SaasAdminProcess(
            saas_url,
            log_dir=workdir,
            log_format="json",
            auth_service_url=auth.base_url,
            auth_service_token=auth.service_token,
            auth_verify_mode="remote",
            auth_revocation_redis_url="none",
            # A reverse proxy on loopback in front of it, as in production.
            auth_trusted_proxies="127.0.0.1",
        )
        try:
            saas.migrate().start()
            yield auth, saas
        finally:
            saas.stop()
            auth.stop()


def lines_of(log: str, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                found.append(entry)
    return found


def request_line(read_log: Any, request_id: str) -> dict[str, Any]:
    """The request's line (written just after its response is sent)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [e for e in lines_of(read_log(), request_id) if e["event"] == "request"]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.05)


def test_a_request_id_is_followed_into_the_auth_server_and_its_audit_row(
    system: System, smtp_sink: SmtpSink
) -> None:
    auth, saas = system
    account = new_account(auth, smtp_sink)
    request_id = f"trace-{uuid.uuid4()}"
    response = httpx.post(
        f"{saas.base_url}/api/auth/login",
        json={"email": account.email, "password": PASSWORD},
        headers={"X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == request_id

    saas_line = request_line(saas.log, request_id)
    assert saas_line["path"] == "/api/auth/login" and saas_line["status"] == 200
    assert saas_line["method"] == "POST" and saas_line["client"] == "127.0.0.1"
    auth_line = request_line(auth.log, request_id)
    assert auth_line["path"] == "/api/auth/login" and auth_line["status"] == 200
    assert auth_line["user_id"] == account.user_id

    out = auth.run_command("audit", "--user", account.email, "--event", "login", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["requestId"] for row in rows][-1] == request_id


def test_an_authenticated_call_names_its_user_and_moves_the_client_metrics(
    system: System, smtp_sink: SmtpSink
) -> None:
    auth, saas = system
    account = new_account(auth, smtp_sink)
    before = scrape(f"{saas.base_url}/metrics")
    request_id = f"api-{uuid.uuid4()}"
    response = httpx.get(
        f"{saas.base_url}/api/plans",
        headers={"Authorization": f"Bearer {account.access_token}", "X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert request_line(saas.log, request_id)["user_id"] == account.user_id
    # Remote mode: the verification was the auth server's /me, called with the same id.
    assert request_line(auth.log, request_id)["path"] == "/api/auth/me"
    after = scrape(f"{saas.base_url}/metrics")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("rozitech_auth_verifications_total", mode="remote", result="success") == 1
    assert moved("rozitech_auth_verification_cache_total", result="miss") == 1
    assert value(after, "saas_admin_outbox_pending") == 0
    assert value(after, "rozitech_auth_breaker_open") == 0
    by_view = {"method": "GET", "status": "200", "view": "plans"}
    assert moved("django_http_responses_total_by_status_view_method_total", **by_view) == 1


def test_the_saas_admin_metrics_are_not_public(system: System) -> None:
    _auth, saas = system
    # From an address outside METRICS_ALLOWED_NETWORKS, as the (trusted) proxy says.
    outsider = {"X-Forwarded-For": "203.0.113.9"}
    refused = httpx.get(f"{saas.base_url}/metrics", headers=outsider, timeout=30)
    assert refused.status_code == 404
    assert "rozitech_auth" not in refused.text


def test_the_saas_admin_probes(system: System) -> None:
    _auth, saas = system
    live = httpx.get(f"{saas.base_url}/health/live", timeout=30)
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    ready = httpx.get(f"{saas.base_url}/health/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "connected"
    assert body["redis"] == "off"
    assert body["revocations"] == {"state": "off"} and body["jwks"] == {"state": "off"}


def test_the_saas_admin_is_unready_without_its_database(tmp_path: Path, system: System) -> None:
    auth, _saas = system
    missing = tmp_path / "missing" / "saas.sqlite3"
    saas = SaasAdminProcess(
        f"sqlite:///{missing}", log_dir=tmp_path, auth_service_url=auth.base_url
    )
    saas.start()
    try:
        ready = httpx.get(f"{saas.base_url}/health/ready", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unready"
        assert ready.json()["database"] == "disconnected"
        assert httpx.get(f"{saas.base_url}/health/live", timeout=30).status_code == 200
    finally:
        saas.stop()


def test_two_gunicorn_workers_are_scraped_as_one(tmp_path: Path, system: System) -> None:
    """The Procfile's server (gunicorn, forked workers): every worker writes to the
    multiprocess folder, and a scrape of either reports the sum."""
    auth, _saas = system
    folder = tmp_path / "metrics"
    folder.mkdir()
    with saas_database(tmp_path) as url:
        saas = SaasAdminProcess(
            url,
            workers=2,
            server="gunicorn",
            log_dir=tmp_path,
            auth_service_url=auth.base_url,
            prometheus_multiproc_dir=folder,
        )
        saas.migrate().start()
        try:
            view = {"view": "health-live", "method": "GET"}
            name = "django_http_requests_total_by_view_transport_method_total"
            sent = 0
            # A new connection each time, until each worker has answered some.
            while len(counted_by_process(folder, name, **view)) < 2 and sent < 500:
                assert httpx.get(f"{saas.base_url}/health/live", timeout=30).status_code == 200
                sent += 1
            assert len(counted_by_process(folder, name, **view)) == 2, sent
            for _ in range(6):
                samples = scrape(f"{saas.base_url}/metrics")
                assert value(samples, name, transport="http", **view) == sent
        finally:
            saas.stop()
