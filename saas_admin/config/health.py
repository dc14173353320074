"""GET /health: this service's database, and the auth server it depends on; GET /health/live
(the process answers) and GET /health/ready (what this replica needs to serve) for probes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.authentication import issuer_status, jwks_status, revocation_status

logger = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("Health check: database unreachable", exc_info=True)
        return "disconnected"
    return "connected"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "off"
    try:
        get_redis_connection("default").ping()
    except (RedisError, OSError):
        logger.warning("Health check: Redis unreachable", exc_info=True)
        return "disconnected"
    return "connected"


def live(request: HttpRequest) -> JsonResponse:
    # Nothing else is checked: an outage of a dependency must not get the process restarted.
    return JsonResponse({"status": "alive"})


def ready(request: HttpRequest) -> JsonResponse:
    """503 while the database (or the configured Redis) is unreachable; the revocation feed
    and the JWKS are reported (a stale feed falls back to remote verification: it serves)."""
    database, redis = _database(), _redis()
    ok = database == "connected" and redis != "disconnected"
    body = {
        "status": "ready" if ok else "unready",
        "database": database,
        "redis": redis,
        "revocations": revocation_status(),
        "jwks": jwks_status(),
    }
    return JsonResponse(body, status=200 if ok else 503)


def health(request: HttpRequest) -> JsonResponse:
    database = _database()
    auth = get_auth_client().health_check()
    auth_ok = auth.get("status") == "healthy"
    # Hybrid mode: "live", "starting" (first backfill pending) or "stale" (the feed has been
    # unreachable too long: tokens are verified remotely); "off" in the other modes.
    revocations = revocation_status()
    # "mismatch": AUTH_JWT_ISSUER names another issuer than the auth server signs with.
    issuer = issuer_status()
    if database != "connected":
        state, code = "unhealthy", 503
    else:
        # Without the auth server, cached and local verification still serve: degraded.
        ok = auth_ok and revocations["state"] in ("live", "off") and issuer["state"] != "mismatch"
        state, code = ("healthy" if ok else "degraded"), 200
    body = {
        "status": state,
        "database": database,
        "authServer": auth.get("status", "unknown"),
        "revocations": revocations["state"],
        "issuer": issuer["state"],
    }
    if "via" in revocations:
        body["revocationsVia"] = revocations["via"]
    if "error" in issuer:
        body["issuerError"] = issuer["error"]
    return JsonResponse(body, status=code)
