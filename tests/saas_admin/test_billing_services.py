"""Every subscription status change: the valid ones work, the others are refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from billing import services
from billing.catalog import seed_catalog
from billing.models import Invoice, Plan, Status, Subscription
from organizations.models import Organization

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
def org() -> Organization:
    seed_catalog()
    return Organization.objects.create(id=uuid.uuid4(), name="Acme", slug="acme")


def plan(code: str = "starter-monthly", product: str = "teamspace") -> Plan:
    return Plan.objects.get(code=code, product__code=product)


def test_add_interval_clamps_to_month_end() -> None:
    assert services.add_interval(NOW, "monthly") == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert services.add_interval(datetime(2027, 12, 15, tzinfo=UTC), "monthly") == datetime(
        2028, 1, 15, tzinfo=UTC
    )
    assert services.add_interval(datetime(2028, 2, 29, tzinfo=UTC), "yearly") == datetime(
        2029, 2, 28, tzinfo=UTC
    )


def test_trial_then_active_then_cancel_at_period_end_then_expired(org: Organization) -> None:
    sub = services.start_trial(org, plan(), now=NOW)
    assert sub.status == Status.TRIAL and sub.trial_end == NOW + timedelta(days=14)
    assert not Invoice.objects.exists()

    sub = services.activate(sub, now=NOW + timedelta(days=3))
    assert sub.status == Status.ACTIVE
    assert sub.current_period_start == NOW + timedelta(days=3)
    invoice = Invoice.objects.get()
    assert invoice.total == plan().price and invoice.lines.get().amount == plan().price

    sub = services.cancel(sub, at_period_end=True)
    assert sub.cancel_at_period_end and sub.status == Status.ACTIVE
    end = sub.current_period_end
    assert services.advance_all(now=end - timedelta(seconds=1)) == 0
    assert services.advance_all(now=end) == 1
    sub.refresh_from_db()
    assert sub.status == Status.EXPIRED and sub.ended_at == end
    assert Invoice.objects.count() == 1


def test_renewal_issues_the_next_invoice(org: Organization) -> None:
    sub = services.subscribe(org, plan("business-yearly"), now=NOW)
    assert sub.current_period_end == datetime(2027, 1, 31, 12, tzinfo=UTC)
    services.advance_all(now=sub.current_period_end)
    sub.refresh_from_db()
    assert sub.status == Status.ACTIVE
    assert sub.current_period_start == datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert sorted(i.period_start.year for i in Invoice.objects.all()) == [2026, 2027]


def test_unconverted_trial_expires(org: Organization) -> None:
    sub = services.start_trial(org, plan(), now=NOW)
    services.advance_all(now=NOW + timedelta(days=14))
    sub.refresh_from_db()
    assert sub.status == Status.EXPIRED


def test_past_due_and_back(org: Organization) -> None:
    sub = services.subscribe(org, plan(), now=NOW)
    sub = services.mark_past_due(sub)
    assert sub.status == Status.PAST_DUE
    sub = services.activate(sub, now=NOW + timedelta(days=2))
    assert sub.status == Status.ACTIVE and Invoice.objects.count() == 2


def test_cancel_now(org: Organization) -> None:
    sub = services.subscribe(org, plan(), now=NOW)
    sub = services.cancel(sub, at_period_end=False, now=NOW + timedelta(days=1))
    assert sub.status == Status.CANCELLED and sub.ended_at == NOW + timedelta(days=1)


def test_change_plan(org: Organization) -> None:
    trial = services.start_trial(org, plan(), now=NOW)
    trial = services.change_plan(trial, plan("business-monthly"), now=NOW + timedelta(days=1))
    assert trial.plan.code == "business-monthly" and trial.trial_end == NOW + timedelta(days=14)
    assert not Invoice.objects.exists()
    paid = services.activate(trial, now=NOW + timedelta(days=2))
    paid = services.change_plan(paid, plan("starter-yearly"), now=NOW + timedelta(days=5))
    assert paid.current_period_start == NOW + timedelta(days=5)
    assert [i.total for i in Invoice.objects.order_by("issued_at")] == [
        plan("business-monthly").price,
        plan("starter-yearly").price,
    ]


def in_state(org: Organization, state: str) -> Subscription:
    if state == "trial":
        return services.start_trial(org, plan(), now=NOW)
    sub = services.subscribe(org, plan(), now=NOW)
    if state == "cancelled":
        return services.cancel(sub, at_period_end=False)
    if state in ("cancelling", "expired"):
        sub = services.cancel(sub)
    if state == "expired":
        services.advance_all(now=sub.current_period_end)
        sub.refresh_from_db()
    return sub


Act = Callable[[Subscription], object]
REFUSED: list[tuple[str, Act, type[services.BillingError]]] = [
    ("active", services.activate, services.InvalidTransition),
    ("active", lambda s: services.change_plan(s, plan()), services.InvalidTransition),
    (
        "active",
        lambda s: services.change_plan(s, plan(product="insurance")),
        services.PlanUnavailable,
    ),
    ("trial", services.mark_past_due, services.InvalidTransition),
    ("cancelled", services.activate, services.InvalidTransition),
    ("cancelled", services.cancel, services.InvalidTransition),
    (
        "expired",
        lambda s: services.change_plan(s, plan("business-monthly")),
        services.InvalidTransition,
    ),
    ("cancelling", services.cancel, services.InvalidTransition),
]


@pytest.mark.parametrize(("state", "act", "error"), REFUSED)
def test_invalid_transitions_are_refused(
    org: Organization, state: str, act: Act, error: type[services.BillingError]
) -> None:
    sub = in_state(org, state)
    before = Subscription.objects.values("status", "plan_id", "cancel_at_period_end").get()
    invoices = Invoice.objects.count()
    with pytest.raises(error):
        act(sub)
    # Refused means untouched: no half-written change, no stray invoice.
    assert Subscription.objects.values("status", "plan_id", "cancel_at_period_end").get() == before
    assert Invoice.objects.count() == invoices


def test_one_live_subscription_per_product(org: Organization) -> None:
    services.start_trial(org, plan(), now=NOW)
    with pytest.raises(services.SubscriptionExists):
        services.subscribe(org, plan("business-monthly"), now=NOW)
    services.subscribe(org, plan(product="insurance"), now=NOW)  # another product is fine


def test_one_trial_per_product(org: Organization) -> None:
    sub = services.start_trial(org, plan(), now=NOW)
    services.cancel(sub, at_period_end=False)
    with pytest.raises(services.TrialUnavailable):
        services.start_trial(org, plan(), now=NOW)


def test_inactive_plan_is_unavailable(org: Organization) -> None:
    Plan.objects.filter(code="starter-monthly").update(is_active=False)
    with pytest.raises(services.PlanUnavailable):
        services.subscribe(org, plan(), now=NOW)
