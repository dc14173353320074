"""The hosted pages on the app: their routers, the CSRF cookie, their error page."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from auth_server.config import Settings
from auth_server.errors import CsrfFailed
from auth_server.web import (
    account,
    invitation,
    mfa,
    passkeys,
    password,
    signin,
    signup,
    two_step,
)
from auth_server.web.csrf import CsrfCookie
from auth_server.web.render import error_page

ROUTERS = (
    signin.router,
    mfa.router,
    signup.router,
    password.router,
    account.router,
    two_step.router,
    invitation.router,
    passkeys.router,
)


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfFailed)
    # A page, not the API's JSON envelope: a person sent this form.
    return error_page(request, exc, back=request.url.path)


def install(app: FastAPI, settings: Settings) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_middleware(CsrfCookie, secure=settings.secure_cookies)
