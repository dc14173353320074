"""The FastAPI application."""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from auth_server import __version__, logs, tracing
from auth_server.api import (
    account,
    admin,
    auth,
    clients,
    docs,
    meta,
    metrics,
    mfa,
    organizations,
    passkeys,
)
from auth_server.api.envelope import install_error_handlers
from auth_server.api.limits import RequestBodyGuard
from auth_server.api.request_log import RequestLog
from auth_server.api.security_headers import SecurityHeaders
from auth_server.config import Settings, get_settings
from auth_server.oidc import routes as oidc_routes
from auth_server.revocation_waiters import Wakeups
from auth_server.services import Services
from auth_server.web import routes as web


def _answer_waiters_on_exit(wakeups: Wakeups) -> None:
    """On SIGTERM/SIGINT, waiting feed reads answer at once, then the server's own handler
    runs: uvicorn's graceful shutdown waits for open requests, a long poll included."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be handled there (the server's own handler lives there)
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(number: int, frame: FrameType | None, previous: Any = previous) -> None:
            wakeups.close()
            if callable(previous):
                previous(number, frame)
            elif previous == signal.SIG_DFL:
                # Nobody else handled it: the default action (exit), as without us.
                signal.signal(number, signal.SIG_DFL)
                signal.raise_signal(number)

        signal.signal(sig, handler)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.cross_process_wakeups.start()
        _answer_waiters_on_exit(services.waiting_feed.wakeups)
        if settings.mail_delivery == "embedded":
            # This process delivers the mail it (and others) wrote: mail_delivery.py.
            services.mail_delivery.start()
        yield
        await services.cross_process_wakeups.stop()
        await run_in_threadpool(services.mail_delivery.stop)
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
    logs.configure_structlog()
    install_error_handlers(app)
    metrics.instrument(app)
    # Routes are tried in this order, by the router and again by the metrics' route lookup:
    # the busiest (probes, keys, login, refresh, /me, the feed) first, the pages after.
    app.include_router(meta.router)
    app.include_router(auth.router)
    app.include_router(admin.feed_router)
    app.include_router(account.router)
    app.include_router(mfa.router)
    app.include_router(organizations.router)
    app.include_router(admin.router)
    app.include_router(clients.router)
    app.include_router(passkeys.router)
    app.include_router(oidc_routes.router)
    app.include_router(metrics.router)
    app.add_middleware(RequestBodyGuard, max_body_bytes=settings.max_body_bytes)
    web.install(app, settings)
    # Outside the guard: its refusals get a request id and a log line too.
    app.add_middleware(RequestLog, trusted_proxies=settings.trusted_proxy_networks)
    # Added last, so outermost: the guard's own refusals get the headers too.
    app.add_middleware(SecurityHeaders, hsts=settings.is_production)
    if settings.api_docs:
        app.include_router(docs.router)
    docs.mount_static(app)
    tracing.install(app, services.database.engine, settings)
    return app
