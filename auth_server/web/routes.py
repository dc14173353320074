"""The hosted pages on the app: their routers, the CSRF cookie, their error pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from auth_server.api.envelope import validation_error
from auth_server.config import Settings
from auth_server.errors import CsrfFailed, ValidationFailed
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
from auth_server.web.sso import SIGNIN_PATH

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
# Every route of the hosted pages (their forms, the pages they are on).
PAGE_ROUTES = [
    route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)
]
_ENDPOINTS = {route.endpoint for route in PAGE_ROUTES}
# The pages a form can be on, longest first: where "Go back" leads from a refused post.
_PAGES = sorted(
    {
        route.path
        for route in PAGE_ROUTES
        if "GET" in (route.methods or ()) and "{" not in route.path
    },
    key=len,
    reverse=True,
)


def _page_of(path: str) -> str:
    """The page whose form posts to `path`: `path` itself when it is a page, else the
    longest page it lies under (/account for /account/password); else the sign-in."""
    return next(
        (page for page in _PAGES if path == page or path.startswith(f"{page}/")), SIGNIN_PATH
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """A request its declared checks refuse (a form field over its length limit, a
    malformed id in its path): on a hosted page, a page, with the status and code the
    JSON API would give; elsewhere the API's envelope."""
    assert isinstance(exc, RequestValidationError)
    if request.scope.get("endpoint") not in _ENDPOINTS:
        return await validation_error(request, exc)
    # A person sent this form: no JSON, and none of the values echoed back.
    return error_page(request, ValidationFailed(), back=_page_of(request.url.path))


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfFailed)
    # A page, not the API's JSON envelope: a person sent this form.
    return error_page(request, exc, back=_page_of(request.url.path))


def install(app: FastAPI, settings: Settings) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    # In place of the envelope's own handler (api/envelope.py), to which it hands the API's.
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(CsrfCookie, secure=settings.secure_cookies)
