"""Plans, subscriptions, invoices and the subscription check, through the real API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.catalog import seed_catalog
from billing.models import Plan
from billing.services import advance_all
from organizations.models import Membership, Role
from tests.saas_admin.helpers import Account, bearer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@pytest.fixture(autouse=True)
def catalog() -> None:
    seed_catalog()


def org_id(account: Account) -> str:
    return str(account.login_data["organization"]["id"])


def plan_id(code: str = "starter-monthly", product: str = "teamspace") -> int:
    return Plan.objects.get(code=code, product__code=product).pk


def post(api: APIClient, account: Account, path: str, body: dict[str, Any]) -> Any:
    return api.post(path, body, format="json", headers=bearer(account.access_token))


def check(api: APIClient, account: Account, org: str, product: str = "teamspace") -> Any:
    return api.get(
        f"/api/subscriptions/check?organizationId={org}&productCode={product}",
        headers=bearer(account.access_token),
    )


def test_plans_are_public_filterable_and_ordered(api: APIClient) -> None:
    body = api.get("/api/plans?product__code=insurance&interval=yearly&ordering=-price").json()
    assert body["success"] is True and body["count"] == 2
    prices = [p["price"] for p in body["results"]]
    assert prices == ["990.00", "290.00"]
    assert {p["product"] for p in body["results"]} == {"insurance"}


def test_subscription_lifecycle_with_invoices(api: APIClient, account: Account) -> None:
    org = org_id(account)
    base = f"/api/organizations/{org}/subscriptions"
    api.get("/api/organizations", headers=bearer(account.access_token))  # mirrored on first call

    created = post(api, account, base, {"planId": plan_id(), "trial": True})
    assert created.status_code == 201, created.content
    sub = created.json()["subscription"]
    assert sub["status"] == "trial" and sub["plan"]["code"] == "starter-monthly"
    assert check(api, account, org).json()["hasActiveSubscription"] is True

    active = post(api, account, f"{base}/{sub['id']}/activate", {})
    assert active.json()["subscription"]["status"] == "active"
    cancelling = post(api, account, f"{base}/{sub['id']}/cancel", {"atPeriodEnd": True})
    assert cancelling.json()["subscription"]["cancelAtPeriodEnd"] is True
    checked = check(api, account, org).json()
    assert checked["hasActiveSubscription"] is True and checked["status"] == "active"
    assert checked["expiresAt"] == cancelling.json()["subscription"]["currentPeriodEnd"]

    advance_all(now=timezone.now() + timedelta(days=40))
    expired = check(api, account, org).json()
    assert expired == {
        "success": True,
        "hasActiveSubscription": False,
        "status": "expired",
        "plan": {"code": "starter-monthly", "name": "Starter (monthly)"},
        "expiresAt": expired["expiresAt"],
        "seats": {"used": 1, "total": 5},
    }
    invoices = api.get(f"/api/organizations/{org}/invoices", headers=bearer(account.access_token))
    assert invoices.json()["count"] == 1
    invoice = invoices.json()["results"][0]
    assert invoice["total"] == "29.00" and invoice["lines"][0]["amount"] == "29.00"
    listed = api.get(f"{base}?status=expired", headers=bearer(account.access_token)).json()
    assert [s["id"] for s in listed["results"]] == [sub["id"]]


def test_invalid_requests_get_clear_errors(api: APIClient, account: Account) -> None:
    org = org_id(account)
    base = f"/api/organizations/{org}/subscriptions"
    api.get("/api/organizations", headers=bearer(account.access_token))
    sub = post(api, account, base, {"planId": plan_id(), "trial": False}).json()["subscription"]

    again = post(api, account, base, {"planId": plan_id("business-monthly"), "trial": False})
    assert (again.status_code, again.json()["code"]) == (409, "subscription_exists")
    twice = post(api, account, f"{base}/{sub['id']}/activate", {})
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")
    other_product = post(
        api, account, f"{base}/{sub['id']}/change-plan", {"planId": plan_id(product="insurance")}
    )
    assert (other_product.status_code, other_product.json()["code"]) == (400, "plan_unavailable")
    no_plan = post(api, account, base, {"planId": 999999})
    assert (no_plan.status_code, no_plan.json()["code"]) == (404, "not_found")
    bad_body = post(api, account, base, {"planId": "many"})
    assert bad_body.status_code == 400 and "planId" in bad_body.json()["errors"]
    unknown_action = post(api, account, f"{base}/{sub['id']}/explode", {})
    assert unknown_action.status_code == 404
    malformed = api.post(
        base, "{not json", content_type="application/json", headers=bearer(account.access_token)
    )
    assert malformed.status_code == 400 and malformed.json()["success"] is False


def test_only_owners_and_admins_manage_subscriptions(
    api: APIClient, account: Account, other_account: Account
) -> None:
    org = org_id(account)
    api.get("/api/organizations", headers=bearer(account.access_token))
    api.get("/api/organizations", headers=bearer(other_account.access_token))
    colleague = Membership.objects.get(user__auth_user_id=other_account.user_id).user
    Membership.objects.create(user=colleague, organization_id=org, role=Role.MEMBER)
    base = f"/api/organizations/{org}/subscriptions"

    refused = post(api, other_account, base, {"planId": plan_id()})
    assert (refused.status_code, refused.json()["code"]) == (403, "not_an_admin")
    assert post(api, account, base, {"planId": plan_id()}).status_code == 201
    # A plain member may read and may ask the check.
    assert api.get(base, headers=bearer(other_account.access_token)).json()["count"] == 1
    answer = check(api, other_account, org).json()
    assert answer["hasActiveSubscription"] is True
    # Seats: the members mirrored here, out of the plan's max users.
    assert answer["seats"] == {"used": 2, "total": 5}


def test_check_refuses_strangers_and_bad_queries(
    api: APIClient, account: Account, other_account: Account
) -> None:
    org = org_id(account)
    api.get("/api/organizations", headers=bearer(account.access_token))
    stranger = check(api, other_account, org)
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_a_member")
    nothing = check(api, account, org, product="insurance").json()
    assert nothing["hasActiveSubscription"] is False and nothing["status"] is None
    assert nothing["seats"] == {"used": 1, "total": None}
    missing = api.get("/api/subscriptions/check", headers=bearer(account.access_token))
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"organizationId", "productCode"}
    anonymous = api.get(f"/api/subscriptions/check?organizationId={org}&productCode=teamspace")
    assert anonymous.status_code == 401
