"""Licenses follow subscriptions: the outbox, its delivery, outages and parallel workers."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from rozitech_auth.client import AuthServerClient
from rozitech_auth.django.apps import reset_all

from billing import services
from billing.catalog import seed_catalog
from billing.models import LicenseUpdate, Plan
from billing.outbox import deliver_due
from organizations.models import Organization
from tests.saas_admin.helpers import Account, new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def catalog(settings: SettingsWrapper, auth_server: AuthServerProcess) -> None:
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    reset_all()
    seed_catalog()


def mirrored(account: Account) -> Organization:
    org = account.login_data["organization"]
    return Organization.objects.create(id=org["id"], name=org["name"], slug=org["slug"])


def plan(code: str = "starter-monthly", product: str = "teamspace") -> Plan:
    return Plan.objects.get(code=code, product__code=product)


def licenses_at(server: AuthServerProcess, account: Account) -> dict[str, Any]:
    me = httpx.get(
        f"{server.base_url}/api/auth/me",
        headers={"Authorization": f"Bearer {account.access_token}"},
        timeout=10,
    )
    assert me.status_code == 200, me.text
    licenses: dict[str, Any] = me.json()["data"]["licenses"]
    return licenses


def test_every_change_queues_an_update_in_the_same_transaction(account: Account) -> None:
    org = mirrored(account)
    sub = services.start_trial(org, plan())
    sub = services.activate(sub)
    with pytest.raises(services.InvalidTransition):
        services.activate(sub)  # refused: nothing queued
    services.change_plan(sub, plan("business-monthly"))
    # Each update carries the seats of the plan it was made on (the plan's max users).
    assert list(LicenseUpdate.objects.values_list("product_code", "status", "seats")) == [
        ("teamspace", "trial", 5),
        ("teamspace", "active", 5),
        ("teamspace", "active", 50),
    ]


def test_delivered_license_shows_in_me_and_in_the_next_login(
    account: Account, auth_server: AuthServerProcess
) -> None:
    org = mirrored(account)
    sub = services.subscribe(org, plan(product="insurance"))
    report = deliver_due(AuthServerClient())
    assert (report.delivered, report.retried, report.failed) == (1, 0, 0)
    license = licenses_at(auth_server, account)["insurance"]
    assert license["status"] == "active"
    assert license["expiresAt"].startswith(sub.current_period_end.strftime("%Y-%m-%dT%H:%M:%S"))
    from tests.auth_server.helpers import PASSWORD

    login = AuthServerClient().login(account.email, PASSWORD)
    assert login["licenses"]["insurance"]["status"] == "active"
    assert deliver_due(AuthServerClient()).delivered == 0  # nothing twice


@pytest.fixture
def own_server(
    auth_server: AuthServerProcess, settings: SettingsWrapper
) -> Iterator[AuthServerProcess]:
    """A second server process on the same database, keys and service token, which tests
    may stop and start."""
    server = AuthServerProcess(
        auth_server.database_url, auth_server.data_dir, service_token=auth_server.service_token
    ).start()
    settings.AUTH_SERVICE_URL = server.base_url
    settings.AUTH_JWT_ISSUER = auth_server.base_url
    reset_all()
    yield server
    server.stop()


def test_an_outage_delays_but_never_loses_or_reorders(
    own_server: AuthServerProcess, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    account = new_account(auth_server, smtp_sink)
    org = mirrored(account)
    own_server.stop()
    sub = services.start_trial(org, plan())
    sub = services.activate(sub)
    services.cancel(sub, at_period_end=False)
    client = AuthServerClient()
    first = deliver_due(client)
    assert (first.delivered, first.retried) == (0, 1)  # the head waits; the rest wait behind
    assert LicenseUpdate.objects.filter(delivered_at__isnull=True).count() == 3

    own_server.start()
    reset_all()  # a fresh client: the breaker opened during the outage
    later = timezone.now() + timedelta(minutes=10)
    report = deliver_due(AuthServerClient(), now=later)
    assert (report.delivered, report.retried, report.failed) == (3, 0, 0)
    rows = list(LicenseUpdate.objects.order_by("id"))
    assert [r.status for r in rows] == ["trial", "active", "cancelled"]
    assert all(r.delivered_at is not None for r in rows)
    assert [r.attempts for r in rows] == [2, 1, 1]
    assert licenses_at(auth_server, account)["teamspace"]["status"] == "cancelled"


def test_a_refused_update_does_not_block_the_queue(account: Account) -> None:
    stranger = Organization.objects.create(id="00000000-0000-4000-8000-000000000001", name="X")
    services.start_trial(stranger, plan())
    org = mirrored(account)
    services.start_trial(org, plan())
    report = deliver_due(AuthServerClient())
    assert (report.delivered, report.failed) == (1, 1)
    refused = LicenseUpdate.objects.get(organization=stranger)
    assert refused.failed_at is not None and refused.last_error


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="row locking (SELECT ... FOR UPDATE SKIP LOCKED) needs PostgreSQL: set DATABASE_URL",
)
def test_two_workers_deliver_each_row_once_and_in_order(
    auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    accounts = [new_account(auth_server, smtp_sink) for _ in range(3)]
    for account in accounts:
        org = mirrored(account)
        sub = services.start_trial(org, plan())
        sub = services.activate(sub)
        services.change_plan(sub, plan("business-monthly"))
    calls: list[int] = []
    lock = threading.Lock()
    real = AuthServerClient.set_license

    def counting(self: AuthServerClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with lock:
            calls.append(kwargs["version"])
        return real(self, *args, **kwargs)

    AuthServerClient.set_license = counting  # type: ignore[method-assign]
    try:
        workers = [threading.Thread(target=_worker) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        AuthServerClient.set_license = real  # type: ignore[method-assign]
    rows = list(LicenseUpdate.objects.order_by("id"))
    assert Counter(calls) == Counter(r.pk for r in rows)  # every row exactly once
    for org_id in {r.organization_id for r in rows}:
        versions = [v for v in calls if v in {r.pk for r in rows if r.organization_id == org_id}]
        assert versions == sorted(versions)  # in order per organization
    assert all(r.delivered_at is not None for r in rows)


def _worker() -> None:
    try:
        deliver_due(AuthServerClient())
    finally:
        connection.close()


def test_deliver_outbox_command(account: Account, tmp_path: Path) -> None:
    from django.core.management import call_command

    services.start_trial(mirrored(account), plan())
    output = tmp_path / "out.txt"
    with output.open("w") as stream:
        call_command("deliver_outbox", "--once", stdout=stream)
    assert "1 delivered" in output.read_text()
