"""Health and discovery: /health and the /.well-known documents."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from auth_server import __version__
from auth_server.api.deps import ServicesDep
from auth_server.keys import ALGORITHM
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
def live() -> JSONResponse:
    # No dependency on purpose: a database outage must not get the process restarted.
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


@router.get("/.well-known/openid-configuration", summary="Discovery document")
def openid_configuration(services: ServicesDep) -> JSONResponse:
    base = services.settings.auth_public_url.rstrip("/")
    return JSONResponse(
        {
            "issuer": services.settings.jwt_issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/api/auth/login",
            "userinfo_endpoint": f"{base}/api/auth/me",
            "end_session_endpoint": f"{base}/api/auth/logout",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "grant_types_supported": ["password", "refresh_token"],
            "audience": services.settings.jwt_audience,
            "access_token_lifetime": services.settings.access_token_ttl,
        }
    )
