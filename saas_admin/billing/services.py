"""Every subscription status change, in one place, each checked against TRANSITIONS."""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import (
    LIVE_STATUSES,
    Interval,
    Invoice,
    InvoiceLine,
    LicenseUpdate,
    Plan,
    Status,
    Subscription,
)
from organizations.models import Organization

# The only status changes there are; anything else is refused with 409.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.TRIAL: frozenset({Status.ACTIVE, Status.CANCELLED, Status.EXPIRED}),
    Status.ACTIVE: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.CANCELLED, Status.EXPIRED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.CANCELLED, Status.EXPIRED}),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class BillingError(Exception):
    """A request the billing rules refuse; `status_code` and `code` go to the client."""

    status_code = 409
    code = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(BillingError):
    code = "invalid_transition"


class SubscriptionExists(BillingError):
    code = "subscription_exists"


class TrialUnavailable(BillingError):
    code = "trial_unavailable"


class PlanUnavailable(BillingError):
    status_code = 400
    code = "plan_unavailable"


def add_interval(start: datetime, interval: str) -> datetime:
    """One billing period later: the same day next month (or year), clamped to month end."""
    months = 12 if interval == Interval.YEARLY else 1
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _move(subscription: Subscription, to: str) -> None:
    if to not in TRANSITIONS[subscription.status]:
        raise InvalidTransition(
            f"A {subscription.get_status_display().lower()} subscription cannot become {to}"
        )
    subscription.status = to


def _check_plan(plan: Plan) -> None:
    if not plan.is_active or not plan.product.is_active:
        raise PlanUnavailable("This plan is not available")


def _invoice(subscription: Subscription) -> Invoice:
    """The invoice of the subscription's current (paid) period."""
    plan = subscription.plan
    start, end = subscription.current_period_start, subscription.current_period_end
    invoice = Invoice.objects.create(
        number=f"INV-{start:%Y%m}-{uuid.uuid4().hex[:10].upper()}",
        organization_id=subscription.organization_id,
        subscription=subscription,
        currency=plan.currency,
        subtotal=plan.price,
        total=plan.price,
        period_start=start,
        period_end=end,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        description=f"{plan.product.name} {plan.name}, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        quantity=1,
        unit_price=plan.price,
        amount=plan.price,
    )
    return invoice


def _start_period(subscription: Subscription, now: datetime) -> None:
    subscription.current_period_start = now
    subscription.current_period_end = add_interval(now, subscription.plan.interval)


def _create(subscription: Subscription) -> Subscription:
    try:
        # The partial unique index settles two concurrent requests for the same product.
        with transaction.atomic():
            subscription.save(force_insert=True)
    except IntegrityError as exc:
        raise SubscriptionExists(
            "This organization already has a live subscription to this product"
        ) from exc
    _queue_license(subscription)
    return subscription


def _save(subscription: Subscription) -> None:
    subscription.save()
    _queue_license(subscription)


def _queue_license(subscription: Subscription) -> None:
    """The auth server's license follows: queued in this same transaction (the outbox), so
    a change is never lost and never waits on the auth server."""
    LicenseUpdate.objects.create(
        organization_id=subscription.organization_id,
        product_code=subscription.plan.product.code,
        status=subscription.status,
        expires_at=subscription.current_period_end
        if subscription.is_live
        else subscription.ended_at or subscription.current_period_end,
        seats=subscription.plan.max_users,
    )


def _has_live(organization: Organization, plan: Plan) -> bool:
    return Subscription.objects.filter(
        organization=organization, product=plan.product, status__in=LIVE_STATUSES
    ).exists()


@transaction.atomic
def start_trial(
    organization: Organization, plan: Plan, now: datetime | None = None
) -> Subscription:
    now = now or timezone.now()
    _check_plan(plan)
    if plan.trial_days == 0:
        raise TrialUnavailable("This plan has no trial")
    if Subscription.objects.filter(organization=organization, product=plan.product).exists():
        raise TrialUnavailable("This organization has already used this product")
    end = now + timedelta(days=plan.trial_days)
    return _create(
        Subscription(
            organization=organization,
            product=plan.product,
            plan=plan,
            status=Status.TRIAL,
            trial_end=end,
            current_period_start=now,
            current_period_end=end,
        )
    )


@transaction.atomic
def subscribe(organization: Organization, plan: Plan, now: datetime | None = None) -> Subscription:
    """A paid subscription starting now, with the invoice of its first period."""
    now = now or timezone.now()
    _check_plan(plan)
    if _has_live(organization, plan):
        raise SubscriptionExists(
            "This organization already has a live subscription to this product"
        )
    subscription = Subscription(
        organization=organization, product=plan.product, plan=plan, status=Status.ACTIVE
    )
    _start_period(subscription, now)
    _create(subscription)
    _invoice(subscription)
    return subscription


def _locked(subscription: Subscription) -> Subscription:
    """The row again, locked: concurrent transitions of one subscription queue up."""
    return (
        Subscription.objects.select_for_update()
        .select_related("plan__product")
        .get(pk=subscription.pk)
    )


@transaction.atomic
def activate(subscription: Subscription, now: datetime | None = None) -> Subscription:
    """Trial or past due -> active: a new paid period and its invoice."""
    now = now or timezone.now()
    subscription = _locked(subscription)
    if subscription.status == Status.ACTIVE:
        raise InvalidTransition("This subscription is already active")
    _move(subscription, Status.ACTIVE)
    _start_period(subscription, now)
    subscription.cancel_at_period_end = False
    _save(subscription)
    _invoice(subscription)
    return subscription


@transaction.atomic
def mark_past_due(subscription: Subscription) -> Subscription:
    subscription = _locked(subscription)
    if subscription.status != Status.ACTIVE:
        raise InvalidTransition("Only an active subscription can become past due")
    _move(subscription, Status.PAST_DUE)
    _save(subscription)
    return subscription


@transaction.atomic
def cancel(
    subscription: Subscription, *, at_period_end: bool = True, now: datetime | None = None
) -> Subscription:
    """At period end: it stays usable until then. Otherwise it ends now."""
    now = now or timezone.now()
    subscription = _locked(subscription)
    if not subscription.is_live:
        raise InvalidTransition(f"This subscription is already {subscription.status}")
    if at_period_end:
        if subscription.cancel_at_period_end:
            raise InvalidTransition("This subscription is already set to end")
        subscription.cancel_at_period_end = True
    else:
        _move(subscription, Status.CANCELLED)
        subscription.ended_at = now
    _save(subscription)
    return subscription


@transaction.atomic
def change_plan(
    subscription: Subscription, plan: Plan, now: datetime | None = None
) -> Subscription:
    """Another plan of the same product. A paid subscription starts a new period on the new
    plan at once, invoiced in full (no proration); a trial keeps its end date."""
    now = now or timezone.now()
    subscription = _locked(subscription)
    _check_plan(plan)
    if plan.product_id != subscription.product_id:
        raise PlanUnavailable("The new plan must be of the same product")
    if plan.pk == subscription.plan_id:
        raise InvalidTransition("The subscription is already on this plan")
    if subscription.status not in (Status.TRIAL, Status.ACTIVE):
        raise InvalidTransition(f"A {subscription.status} subscription cannot change plan")
    subscription.plan = plan
    if subscription.status == Status.ACTIVE:
        _start_period(subscription, now)
        _save(subscription)
        _invoice(subscription)
    else:
        _save(subscription)
    return subscription


@transaction.atomic
def advance(subscription: Subscription, now: datetime | None = None) -> Subscription:
    """What happens when a period ends: renewal with a new invoice, or the end."""
    now = now or timezone.now()
    subscription = _locked(subscription)
    if not subscription.is_live or subscription.current_period_end > now:
        return subscription
    if subscription.renews:
        _move(subscription, Status.ACTIVE)
        _start_period(subscription, subscription.current_period_end)
        _save(subscription)
        _invoice(subscription)
        return subscription
    # A trial not converted, a cancellation taking effect, or an unpaid past-due period.
    _move(subscription, Status.EXPIRED)
    subscription.ended_at = subscription.current_period_end
    _save(subscription)
    return subscription


def advance_all(now: datetime | None = None) -> int:
    """Advance every live subscription whose period has ended; returns how many changed."""
    now = now or timezone.now()
    due = Subscription.objects.filter(status__in=LIVE_STATUSES, current_period_end__lte=now)
    changed = 0
    for subscription in due.iterator():
        before = (subscription.status, subscription.current_period_end)
        after = advance(subscription, now)
        changed += (after.status, after.current_period_end) != before
    return changed
