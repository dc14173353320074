"""GET /metrics: django-prometheus's requests per view and status, the client library's
metrics (rozitech_auth.metrics), and the license outbox's queue.

Open to METRICS_ALLOWED_NETWORKS only (loopback by default; the address is the one
AUTH_TRUSTED_PROXIES vouch for): anyone else gets the 404 of an unknown page. Metrics reveal
traffic patterns, so they are not public.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Gauge
from rozitech_auth.django.authentication import end_user

from billing.models import LicenseUpdate
from config.api import json_not_found

# Read from the database at scrape time: every worker sees the same queue.
OUTBOX_DEPTH = Gauge(
    "saas_admin_outbox_pending",
    "License updates waiting for delivery to the auth server",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "saas_admin_outbox_oldest_age_seconds",
    "Age of the oldest license update still waiting (0 when none waits)",
    multiprocess_mode="mostrecent",
)


def _may_scrape(request: HttpRequest) -> bool:
    caller = end_user(request)
    try:
        address = ipaddress.ip_address(caller.ip_address) if caller else None
    except ValueError:
        return False
    return address is not None and any(address in n for n in settings.METRICS_NETWORKS)


def scrape(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        return json_not_found(request)
    pending = LicenseUpdate.objects.filter(delivered_at__isnull=True, failed_at__isnull=True)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    OUTBOX_DEPTH.set(pending.count())
    OUTBOX_OLDEST_AGE.set((timezone.now() - oldest).total_seconds() if oldest else 0)
    response: HttpResponse = ExportToDjangoView(request)
    return response
