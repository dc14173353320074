"""GET /health: this service's database, and the auth server it depends on."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.authentication import issuer_status, revocation_status

logger = logging.getLogger(__name__)


def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "connected"
    except DatabaseError:
        logger.warning("Health check: database unreachable", exc_info=True)
        database = "disconnected"
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
