"""Prometheus metrics of the auth server (README, "Operating it": what each one means).

HTTP requests are counted and timed per route and status by prometheus-fastapi-instrumentator
(api/metrics.py). The domain counters below move in few places that every flow goes through:
the audit log (logins by outcome, lockouts, refresh-token reuse), Sessions.refresh (every
refresh, audited or not) and the Mailer. Several worker processes: with
PROMETHEUS_MULTIPROC_DIR set (`serve --workers N` sets one up) every process writes its
values there and a scrape of any worker adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge

LOGINS = Counter(
    "auth_logins_total",
    "Password logins by outcome: success, failure, locked (refused by the lockout), mfa",
    ["outcome"],
)
REFRESHES = Counter(
    "auth_refreshes_total",
    "Refresh-token rotations by outcome: success, invalid, reuse",
    ["outcome"],
)
REUSE_DETECTIONS = Counter(
    "auth_refresh_token_reuse_total",
    "Already-rotated refresh tokens presented after the grace window (family revoked)",
)
LOCKOUTS = Counter("auth_lockouts_total", "Accounts locked after too many failed logins")
EMAILS = Counter("auth_emails_total", "Outgoing e-mails by result: sent, failed", ["result"])
# The live value of one process is as good as another's: the largest is reported.
KEY_AGE = Gauge(
    "auth_signing_key_age_seconds",
    "Age of the key that signs access tokens (known for file-based keys only)",
    multiprocess_mode="max",
)

_LOGIN_EVENTS = ("login", "login_failed")


def count_audit_event(event: str, outcome: str) -> None:
    """Moves the counter that an audited event stands for (most events have none)."""
    if event in _LOGIN_EVENTS:
        if "mfa" in outcome:
            label = "mfa"
        elif outcome == "locked":
            label = "locked"
        else:
            label = "success" if event == "login" else "failure"
        LOGINS.labels(label).inc()
    elif event == "lockout":
        LOCKOUTS.inc()
    elif event == "refresh_token_reuse":
        REUSE_DETECTIONS.inc()


def set_key_age(created: datetime | None, now: datetime) -> None:
    if created is not None:
        KEY_AGE.set((now - created).total_seconds())
