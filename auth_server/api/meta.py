"""Health and keys: /health and the JWKS (discovery: oidc/routes.py)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from auth_server import __version__
from auth_server.api.deps import ServicesDep
from auth_server.services import Services

router = APIRouter(tags=["meta"])
logger = logging.getLogger("auth_server.health")


def _database_reachable(services: Services) -> bool:
    try:
        with services.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.warning("Health check: database unreachable", exc_info=True)
        return False
    return True


@router.get("/health", summary="Liveness and database reachability")
def health(services: ServicesDep) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "healthy",
        "version": __version__,
        "environment": services.settings.environment,
        "database": "connected",
    }
    if not _database_reachable(services):
        return JSONResponse({**body, "status": "unhealthy", "database": "disconnected"}, 503)
    return JSONResponse(body)


@router.get("/health/live", summary="Liveness: the process answers (nothing else is checked)")
async def live() -> JSONResponse:
    # No dependency on purpose: a database outage must not get the process restarted. No
    # I/O either, so it answers on the event loop (a probe then never waits for a thread).
    return JSONResponse({"status": "alive"})


@router.get("/health/ready", summary="Readiness: the database, and Redis where configured")
def ready(services: ServicesDep) -> JSONResponse:
    database = _database_reachable(services)
    redis_ok = services.revocations.publisher.reachable()
    body: dict[str, Any] = {
        "status": "ready",
        "database": "connected" if database else "disconnected",
        "redis": {None: "off", True: "connected", False: "disconnected"}[redis_ok],
    }
    # A load balancer stops sending traffic here until both answer again.
    if not database or redis_ok is False:
        return JSONResponse({**body, "status": "unready"}, 503)
    return JSONResponse(body)


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
def jwks(services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
