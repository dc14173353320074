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

router = APIRouter(tags=["meta"])
logger = logging.getLogger("auth_server.health")


@router.get("/health", summary="Liveness and database reachability")
def health(services: ServicesDep) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "healthy",
        "version": __version__,
        "environment": services.settings.environment,
        "database": "connected",
    }
    try:
        with services.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.warning("Health check: database unreachable", exc_info=True)
        return JSONResponse({**body, "status": "unhealthy", "database": "disconnected"}, 503)
    return JSONResponse(body)


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
def jwks(services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
