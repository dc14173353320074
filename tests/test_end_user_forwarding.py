"""The SaaS Admin forwards its end users' addresses to the auth server, which believes them
only from a trusted service: one client's bad logins no longer lock everybody out.

Real processes: an auth server, a SaaS Admin in front of it, and HTTP clients bound to
different loopback addresses (127.0.0.2, 127.0.0.3, ...) as different people.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.helpers import new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.clients import client_from
from tests.support.databases import temporary_database
from tests.support.saas_process import SaasAdminProcess, saas_database
from tests.support.smtp import SmtpSink

# The auth server's default per-IP budget on login (RATE_LIMIT_PER_IP).
PER_IP = 100
# The address of the SaaS Admin's (pretend) reverse proxy.
PROXY = "127.0.0.6"


@pytest.fixture(scope="module")
def system(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, SaasAdminProcess]]:
    workdir: Path = tmp_path_factory.mktemp("forwarding")
    with temporary_database(workdir) as url, saas_database(workdir) as saas_url:
        auth = AuthServerProcess(url, workdir, smtp_port=smtp_sink.port)
        auth.migrate().start()
        saas = SaasAdminProcess(
            saas_url,
            log_dir=workdir,
            auth_service_url=auth.base_url,
            auth_service_token=auth.service_token,
            auth_verify_mode="remote",
            auth_revocation_redis_url="none",
            # A reverse proxy in front of the SaaS Admin, as in production.
            auth_trusted_proxies=PROXY,
        )
        try:
            saas.migrate().start()
            yield auth, saas
        finally:
            saas.stop()
            auth.stop()


def person(address: str, base_url: str, agent: str = "") -> httpx.Client:
    """An HTTP client whose connections come from `address` (a loopback address)."""
    return client_from(base_url, address, headers={"User-Agent": agent or f"browser-of-{address}"})


def audit(auth: AuthServerProcess, event: str, limit: int = 1) -> list[dict[str, Any]]:
    out = auth.run_command("audit", "--event", event, "--json", "--limit", str(limit))
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_one_address_exhausting_its_budget_does_not_lock_out_another(
    system: tuple[AuthServerProcess, SaasAdminProcess], smtp_sink: SmtpSink
) -> None:
    auth, saas = system
    victim = new_account(auth, smtp_sink)
    with person("127.0.0.2", saas.base_url) as attacker:
        statuses = [
            attacker.post(
                "/api/auth/login",
                json={
                    "email": f"nobody-{uuid.uuid4().hex}@example.com",
                    "password": "wrong-guess-1",
                },
            )
            for _ in range(PER_IP + 1)
        ]
    assert [r.status_code for r in statuses[:PER_IP]] == [401] * PER_IP
    refused = statuses[-1]
    assert refused.status_code == 429
    # One code for one answer: the auth server's.
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1

    with person("127.0.0.3", saas.base_url) as other:
        response = other.post("/api/auth/login", json={"email": victim.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        refresh = response.json()["data"]["refreshToken"]
        refreshed = other.post("/api/auth/refresh", json={"refreshToken": refresh})
        assert refreshed.status_code == 200
        out = other.post(
            "/api/auth/logout", json={"refreshToken": refreshed.json()["data"]["refreshToken"]}
        )
        assert out.status_code == 200

    # The audit log names the people, not the SaaS Admin.
    failed = audit(auth, "login_failed")[0]
    assert (failed["ip"], failed["userAgent"]) == ("127.0.0.2", "browser-of-127.0.0.2")
    for event in ("login", "logout"):
        entry = audit(auth, event)[0]
        assert (entry["ip"], entry["userAgent"]) == ("127.0.0.3", "browser-of-127.0.0.3")


def test_the_admin_site_login_forwards_the_address(
    system: tuple[AuthServerProcess, SaasAdminProcess],
) -> None:
    auth, saas = system
    with person("127.0.0.4", saas.base_url) as browser:
        page = browser.get("/admin/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match
        email = f"nobody-{uuid.uuid4().hex}@example.com"
        browser.post(
            "/admin/login/",
            data={"csrfmiddlewaretoken": match[1], "username": email, "password": "wrong-guess-1"},
            headers={"Referer": f"{saas.base_url}/admin/login/"},
        )
    failed = audit(auth, "login_failed")[0]
    assert failed["email"] == email
    assert failed["ip"] == "127.0.0.4"


@pytest.mark.parametrize("token", ["", "a-wrong-service-token"], ids=["none", "wrong"])
def test_the_end_user_headers_are_ignored_without_the_service_credential(
    system: tuple[AuthServerProcess, SaasAdminProcess], token: str
) -> None:
    auth, _ = system
    email = f"nobody-{uuid.uuid4().hex}@example.com"
    headers = {"X-End-User-IP": "203.0.113.9", "X-End-User-Agent": "forged"}
    if token:
        headers["X-Service-Token"] = token
    with person("127.0.0.5", auth.base_url, agent="direct") as client:
        response = client.post(
            "/api/auth/login", json={"email": email, "password": "wrong-guess-1"}, headers=headers
        )
    assert response.status_code == 401
    failed = audit(auth, "login_failed")[0]
    assert (failed["email"], failed["ip"], failed["userAgent"]) == (email, "127.0.0.5", "direct")


@pytest.mark.parametrize(
    ("peer", "expected"),
    [(PROXY, "198.51.100.7"), ("127.0.0.7", "127.0.0.7")],
    ids=["from-the-trusted-proxy", "from-anyone-else"],
)
def test_x_forwarded_for_is_read_only_from_the_saas_admins_trusted_proxies(
    system: tuple[AuthServerProcess, SaasAdminProcess], peer: str, expected: str
) -> None:
    auth, saas = system
    email = f"nobody-{uuid.uuid4().hex}@example.com"
    with person(peer, saas.base_url) as client:
        response = client.post(
            "/api/auth/login",
            json={"email": email, "password": "wrong-guess-1"},
            # The leftmost entry is whatever the client wrote: never believed.
            headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"},
        )
    assert response.status_code == 401
    failed = audit(auth, "login_failed")[0]
    assert (failed["email"], failed["ip"]) == (email, expected)
