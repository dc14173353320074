"""Many replicas acting as one: two auth server processes and two SaaS Admin processes
(uvicorn; gunicorn with two forked workers) on one database, in hybrid mode.

Log in through auth server A, use the token on SaaS Admin replicas 1 and 2, log out through
auth server B: both replicas come to refuse the token (the latency distribution is printed,
not asserted; a one-minute hang guard only). With Redis (the channel) and without it
(the waiting feed: replica 1 waits on auth server A, which learns of B's commit by
PostgreSQL LISTEN/NOTIFY, or on SQLite by its newest-id check). A replica started after
the logout refuses the token at once (backfill).

The SaaS Admin replicas run with their production settings, and nginx from the distribution
stands in front of all four with the shipped deploy/nginx.conf (rendered by
deploy/render-nginx, TLS with a self-signed certificate, a public port other than 443): the
same layout as README's "Running many replicas". Where nginx is absent those tests skip.

PostgreSQL for both databases when AUTH_DATABASE_URL/DATABASE_URL point at it (SQLite files
shared by the processes otherwise); the Redis variant needs REDIS_URL.
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.auth_server.helpers import login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import REDIS_URL, needs_redis
from tests.support.nginx import ADMIN_DOMAIN, AUTH_DOMAIN, NGINX, NginxProcess, needs_nginx
from tests.support.saas_process import SaasAdminProcess, saas_database
from tests.support.smtp import SmtpSink
from tests.support.waiting import HANG_GUARD

ISSUER = "http://auth.replicas.test"
LOGOUTS = 8


@dataclass
class Deployment:
    transport: str
    auth: list[AuthServerProcess]
    saas: list[SaasAdminProcess]
    saas_database: str
    saas_settings: dict[str, str]
    email: str
    workdir: Path
    nginx: NginxProcess | None
    latencies: list[float] = field(default_factory=list)

    def login(self) -> dict[str, str]:
        with httpx.Client(base_url=self.auth[0].base_url, timeout=30) as http:
            data = login(http, self.email)
        return {"access": data["accessToken"], "refresh": data["refreshToken"]}

    def logout(self, refresh: str) -> None:
        response = httpx.post(
            f"{self.auth[1].base_url}/api/auth/logout", json={"refreshToken": refresh}, timeout=10
        )
        assert response.status_code == 200, response.text


@pytest.fixture(
    scope="module",
    params=[pytest.param("redis", marks=needs_redis("the channel is Redis pub/sub")), "waiting"],
)
def deployment(
    request: pytest.FixtureRequest, smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    transport = str(request.param)
    redis_url = REDIS_URL
    workdir = tmp_path_factory.mktemp(f"replicas-{transport}")
    shared = {
        # One deployment: one credential, one channel, one issuer, one signing key (the
        # shared data dir's development key).
        "service_token": f"replicas-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "revocation_channel": f"test-revocations-{uuid.uuid4().hex}",
        "jwt_issuer": ISSUER,
        "redis_url": redis_url if transport == "redis" else "",
        # nginx, the only proxy: the per-IP limits see the address it puts in X-Forwarded-For.
        "trusted_proxies": "127.0.0.1",
    }
    with temporary_database(workdir) as auth_db, saas_database(workdir) as saas_db:
        auth = [AuthServerProcess(auth_db, workdir, smtp_port=smtp_sink.port, **shared)]
        auth[0].migrate().start()
        auth.append(AuthServerProcess(auth_db, workdir, smtp_port=smtp_sink.port, **shared))
        auth[1].start()
        settings = {
            "AUTH_VERIFY_MODE": "hybrid",
            "AUTH_JWT_ISSUER": ISSUER,
            "AUTH_SERVICE_TOKEN": shared["service_token"],
            "AUTH_REVOCATION_CHANNEL": shared["revocation_channel"],
            "AUTH_REVOCATION_REDIS_URL": redis_url if transport == "redis" else "none",
            "CACHE_KEY_PREFIX": f"replicas-{uuid.uuid4().hex[:8]}",
            # Production settings, as deployed: HTTPS behind nginx (X-Forwarded-Proto),
            # secure cookies, /health exempt from the HTTPS redirect for direct probes.
            "ENVIRONMENT": "production",
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
            "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,{ADMIN_DOMAIN}",
            "TRUSTED_PROXIES": "127.0.0.1",
        }
        if transport == "redis":
            settings["REDIS_URL"] = redis_url
        saas: list[SaasAdminProcess] = []
        nginx: NginxProcess | None = None
        try:
            # Replica 1 (uvicorn, one worker) talks to auth server A, replica 2 (gunicorn,
            # two workers forked from a preloaded master) to B, as behind a load balancer.
            for index, workers, kind in ((0, 1, "uvicorn"), (1, 2, "gunicorn")):
                replica = SaasAdminProcess(
                    saas_db, workers, workdir, kind, AUTH_SERVICE_URL=auth[index].base_url,
                    **settings,
                )  # fmt: skip
                if index == 0:
                    replica.migrate()
                saas.append(replica.start())
            if NGINX is not None:
                nginx = NginxProcess(
                    workdir / "nginx",
                    [f"127.0.0.1:{server.port}" for server in auth],
                    [f"127.0.0.1:{replica.port}" for replica in saas],
                    static_root=workdir,
                )
                nginx.start()
            with httpx.Client(base_url=auth[0].base_url, timeout=30) as http:
                email = verified_user(http, smtp_sink)
            yield Deployment(transport, auth, saas, saas_db, settings, email, workdir, nginx)
        finally:
            if nginx is not None:
                nginx.stop()
            for replica in saas:
                replica.stop()
            for server in auth:
                server.stop()


def get(replica: SaasAdminProcess, token: str) -> int:
    # A new connection each time: with several workers, each may be the one that answers.
    # Straight to the replica, with the scheme header the load balancer adds (production
    # settings redirect plain HTTP).
    response = httpx.get(
        f"{replica.base_url}/api/auth/verify",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert response.status_code in (200, 401), response.text
    return response.status_code


def seconds_until_refused(replica: SaasAdminProcess, token: str, since: float) -> float:
    """Seconds until the replica refuses the token for good: six refusals in a row, on new
    connections, so whichever worker answers refuses it (each worker keeps its own set)."""
    first_refusal: float | None = None
    in_a_row = 0
    while True:
        if get(replica, token) == 401:
            first_refusal = first_refusal or time.monotonic()
            in_a_row += 1
            if in_a_row == 6:
                return first_refusal - since
        else:
            first_refusal, in_a_row = None, 0
            # A hang guard only: how fast it was is printed (a measurement), not asserted.
            if time.monotonic() - since > HANG_GUARD:
                raise AssertionError(
                    f"{replica.base_url} still accepts the token after {HANG_GUARD:.0f} s"
                )
            time.sleep(0.01)


def test_logout_through_b_is_refused_by_both_replicas(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    latencies: list[float] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(LOGOUTS):
            session = deployment.login()
            for replica in deployment.saas:
                for _ in range(3):
                    assert get(replica, session["access"]) == 200
            deployment.logout(session["refresh"])
            since = time.monotonic()
            waits = [
                pool.submit(seconds_until_refused, replica, session["access"], since)
                for replica in deployment.saas
            ]
            latencies.extend(wait.result() for wait in waits)
    ordered = sorted(latencies)
    with capsys.disabled():
        print(
            f"\n[{deployment.transport}] logout at auth server B -> refused at SaaS Admin "
            f"replicas 1 and 2 ({len(ordered)} refusals): min {ordered[0] * 1000:.0f} ms, "
            f"p50 {statistics.median(ordered) * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms"
        )


def test_a_replica_started_after_the_logout_refuses_at_once(deployment: Deployment) -> None:
    session = deployment.login()
    assert get(deployment.saas[0], session["access"]) == 200
    deployment.logout(session["refresh"])
    # Through nginx's internal listener where there is one, as README's layout has it.
    via = deployment.nginx.internal_url if deployment.nginx else deployment.auth[1].base_url
    late = SaasAdminProcess(
        deployment.saas_database, 1, deployment.workdir,
        AUTH_SERVICE_URL=via, **deployment.saas_settings,
    ).start()  # fmt: skip
    try:
        # Its very first request waits for the backfill (since=0), which has the logout.
        assert get(late, session["access"]) == 401
        fresh = deployment.login()
        assert get(late, fresh["access"]) == 200
        # A load balancer's probe, straight to the replica over HTTP: answered, not sent to
        # HTTPS as everything else is (production settings).
        probe = httpx.get(f"{late.base_url}/health", timeout=10)
        assert probe.status_code == 200, probe.text
        assert httpx.get(f"{late.base_url}/api/plans", timeout=10).status_code == 301
        health = probe.json()
        assert health["revocations"] == "live"
        assert health["revocationsVia"] == deployment.transport
    finally:
        late.stop()


@needs_nginx
def test_the_layout_behind_nginx(deployment: Deployment) -> None:
    nginx = deployment.nginx
    assert nginx is not None
    with nginx.client(AUTH_DOMAIN, timeout=30) as public:
        session = login(public, deployment.email)
        # Trusted-service endpoints are not on the public listener ...
        for path in ("/api/auth/revocations", "/api/admin/users/x/disable"):
            assert public.get(path).status_code == 404
    # ... only on the internal one.
    feed = httpx.get(
        f"{nginx.internal_url}/api/auth/revocations",
        headers={"X-Service-Token": deployment.auth[0].service_token},
        timeout=10,
    )
    assert feed.status_code == 200, feed.text
    # Plain HTTP is sent to HTTPS, on the public port.
    plain = httpx.get(
        f"http://127.0.0.1:{nginx.http_port}/health", headers={"Host": AUTH_DOMAIN}, timeout=10
    )
    assert plain.status_code == 301
    assert plain.headers["location"] == f"{nginx.url(AUTH_DOMAIN)}/health"
    with nginx.client(ADMIN_DOMAIN, timeout=30) as admin:
        verify = admin.get(
            "/api/auth/verify", headers={"Authorization": f"Bearer {session['accessToken']}"}
        )
        assert verify.status_code == 200, verify.text
        assert admin.get("/health").json()["status"] == "healthy"
        # Swagger UI is off in production (API_DOCS).
        assert admin.get("/api/docs/").status_code == 404
        # The admin site's login form, posted from https://admin...:<port>: Django's CSRF
        # check compares the Origin with the Host nginx passes on, port included.
        page = admin.get("/admin/login/")
        assert page.status_code == 200
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, page.text
        origin = nginx.url(ADMIN_DOMAIN)
        posted = admin.post(
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": match.group(1),
                "username": deployment.email,
                "password": "not the password",
            },
            headers={"Origin": origin, "Referer": f"{origin}/admin/login/"},
        )
        # The form's own answer (wrong password), not 403 "CSRF verification failed".
        assert posted.status_code == 200, posted.text
        assert "csrfmiddlewaretoken" in posted.text
