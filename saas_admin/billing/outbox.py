"""Delivery of the license outbox to the auth server: in order per organization, each row
once, retried with backoff across outages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone
from rest_framework.fields import DateTimeField
from rozitech_auth.client import AuthServerClient
from rozitech_auth.errors import AuthError, AuthServerRejected, AuthServerUnavailable

from billing.models import LicenseUpdate

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... seconds, at most OUTBOX_MAX_BACKOFF."""
    ceiling = int(getattr(settings, "OUTBOX_MAX_BACKOFF", 300))
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), ceiling))


def _pending() -> QuerySet[LicenseUpdate]:
    return LicenseUpdate.objects.filter(delivered_at__isnull=True, failed_at__isnull=True)


def _next_due(now: datetime) -> LicenseUpdate | None:
    """The oldest due row that is the head of its organization's queue, locked.

    Only heads are eligible, so an organization's updates go out in order; SKIP LOCKED lets
    another worker take another organization's head instead of waiting or doubling up.
    """
    heads = _pending().values("organization_id").annotate(head=Min("id")).values("head")
    return (
        _pending()
        .filter(id__in=heads, next_attempt_at__lte=now)
        .select_for_update(skip_locked=True)
        .order_by("id")
        .first()
    )


def deliver_due(client: AuthServerClient, now: datetime | None = None) -> DeliveryReport:
    """Deliver every row due now; returns what happened. Safe to run in several workers."""
    report = DeliveryReport()
    while True:
        with transaction.atomic():
            current = now or timezone.now()
            row = _next_due(current)
            if row is None:
                return report
            _deliver(client, row, current, report)


def _retry_later(
    row: LicenseUpdate,
    exc: AuthError,
    now: datetime,
    report: DeliveryReport,
    server_wait: float | None,
) -> None:
    """An outage, a server-side problem or rate limiting: try again later, keep the order."""
    row.attempts += 1
    wait = backoff(row.attempts)
    if server_wait:
        wait = max(wait, timedelta(seconds=float(server_wait)))
    row.next_attempt_at = now + wait
    row.last_error = exc.message[:300]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    report.retried += 1
    logger.warning("License update %s not delivered (%s); retry in %s", row.pk, exc, wait)


def _deliver(
    client: AuthServerClient, row: LicenseUpdate, now: datetime, report: DeliveryReport
) -> None:
    try:
        client.set_license(
            str(row.organization_id),
            row.product_code,
            status=row.status,
            expires_at=DateTimeField().to_representation(row.expires_at)
            if row.expires_at
            else None,
            version=row.pk,
            seats=row.seats,
        )
    except AuthServerRejected as exc:
        if exc.status == 429:
            _retry_later(row, exc, now, report, exc.retry_after)
            return
        # Refused for good (unknown organization or product): retrying cannot help. Later
        # rows carry the whole license state, so the queue moves on.
        row.attempts += 1
        row.failed_at = now
        row.last_error = exc.message[:300]
        row.save(update_fields=["attempts", "failed_at", "last_error"])
        report.failed += 1
        logger.error("License update %s refused by the auth server: %s", row.pk, exc.message)
        return
    except AuthServerUnavailable as exc:
        _retry_later(row, exc, now, report, exc.retry_after)
        return
    except AuthError as exc:
        # A server-side problem (unexpected answer, our credential refused): try again later.
        _retry_later(row, exc, now, report, None)
        return
    row.attempts += 1
    row.delivered_at = now
    row.last_error = ""
    row.save(update_fields=["attempts", "delivered_at", "last_error"])
    report.delivered += 1
