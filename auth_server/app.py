"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from auth_server import __version__
from auth_server.api import account, admin, auth, docs, meta, pages
from auth_server.api.envelope import install_error_handlers
from auth_server.api.limits import RequestBodyGuard
from auth_server.api.security_headers import SecurityHeaders
from auth_server.config import Settings, get_settings
from auth_server.services import Services


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.database.dispose()
        services.revocations.publisher.close()

    app = FastAPI(
        title="Rozitech Auth Server",
        version=__version__,
        description="Centralized authentication: accounts, sessions, organizations, licenses.",
        # Served by api/docs.py from local files, never from a CDN.
        docs_url=None,
        redoc_url=None,
        # API_DOCS: off by default in production (no map of the API on the public listener).
        openapi_url="/openapi.json" if settings.api_docs else None,
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(RequestBodyGuard, max_body_bytes=settings.max_body_bytes)
    # Added last, so outermost: the guard's own refusals get the headers too.
    app.add_middleware(SecurityHeaders, hsts=settings.is_production)
    app.include_router(auth.router)
    app.include_router(account.router)
    app.include_router(admin.feed_router)
    app.include_router(admin.router)
    app.include_router(pages.router)
    app.include_router(meta.router)
    if settings.api_docs:
        app.include_router(docs.router)
    docs.mount_static(app)
    return app
