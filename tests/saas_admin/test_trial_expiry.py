"""Trials end: licenses and subscriptions are judged against their end everywhere they are
read, and the outbox worker runs the periodic advance (issue 20, item 4).

A real auth server (sign-up trials, /me, the license API); the clock moved only where a
trial must have ended (`rozitech_auth.tokens.now`, or a start date in the past)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient
from rozitech_auth import tokens
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.apps import reset_all
from rozitech_auth.django.authentication import AuthToken
from rozitech_auth.tokens import RemoteVerifier

from billing import services
from billing.catalog import seed_catalog
from billing.models import Plan, Status, Subscription
from organizations.models import Organization
from tests.saas_admin.helpers import Account, bearer
from tests.support.auth_process import AuthServerProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@pytest.fixture(autouse=True)
def catalog(settings: SettingsWrapper, auth_server: AuthServerProcess) -> None:
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    reset_all()
    seed_catalog()


def auth_token(account: Account) -> AuthToken:
    """The account's token as remote verification sees it (licenses from /me)."""
    verified = RemoteVerifier(get_auth_client()).verify(account.access_token)
    return AuthToken(account.access_token, verified)


def test_has_license_honours_expires_at(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    token = auth_token(account)
    trial = token.licenses["teamspace"]  # type: ignore[index]
    assert trial["status"] == "trial" and trial["expiresAt"]  # the sign-up trial
    assert token.has_license("teamspace")
    end = datetime.fromisoformat(trial["expiresAt"].replace("Z", "+00:00")).timestamp()
    monkeypatch.setattr(tokens, "now", lambda: end + 1)
    assert not token.has_license("teamspace")
    licenses: Any = token.licenses
    licenses["teamspace"] = {"status": "active", "expiresAt": None}
    assert token.has_license("teamspace")  # open-ended
    licenses["teamspace"] = {"status": "trial", "expiresAt": "some day"}
    assert not token.has_license("teamspace")  # unreadable: nothing granted


def mirrored(api: APIClient, account: Account) -> Organization:
    api.get("/api/organizations", headers=bearer(account.access_token))
    return Organization.objects.get(pk=account.login_data["organization"]["id"])


def check(api: APIClient, account: Account, org: Organization) -> dict[str, Any]:
    response = api.get(
        f"/api/subscriptions/check?organizationId={org.pk}&productCode=teamspace",
        headers=bearer(account.access_token),
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def plan() -> Plan:
    return Plan.objects.get(code="starter-monthly", product__code="teamspace")


def test_the_check_refuses_an_ended_trial_before_the_scheduler_ran(
    api: APIClient, account: Account
) -> None:
    org = mirrored(api, account)
    long_ago = timezone.now() - timedelta(days=30)
    services.start_trial(org, plan(), now=long_ago)  # 14 days: ended 16 days ago
    checked = check(api, account, org)
    assert checked["hasActiveSubscription"] is False and checked["status"] == "expired"
    assert Subscription.objects.get().status == Status.TRIAL  # not advanced yet


def test_the_check_ends_a_cancellation_and_keeps_a_renewal(
    api: APIClient, account: Account
) -> None:
    org = mirrored(api, account)
    sub = services.subscribe(org, plan(), now=timezone.now() - timedelta(days=40))
    checked = check(api, account, org)
    # Renewing: advance would start the next period, so it still grants.
    assert checked["hasActiveSubscription"] is True and checked["status"] == "active"
    services.cancel(sub, at_period_end=True)
    checked = check(api, account, org)
    assert checked["hasActiveSubscription"] is False and checked["status"] == "expired"


def test_the_outbox_worker_advances_subscriptions(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    org = mirrored(api, account)
    sub = services.start_trial(org, plan(), now=timezone.now() - timedelta(days=30))
    out = io.StringIO()
    call_command("deliver_outbox", "--once", stdout=out)
    sub.refresh_from_db()
    assert sub.status == Status.EXPIRED
    assert "Subscriptions advanced: 1" in out.getvalue()
    # ...and the license that followed it reached the auth server in the same run.
    assert auth_token(account).licenses["teamspace"]["status"] == "expired"  # type: ignore[index]
    assert not auth_token(account).has_license("teamspace")
