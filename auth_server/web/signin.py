"""Sign in and sign out of the hosted pages: the browser session's two ends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError
from auth_server.i18n import N_
from auth_server.web.mfa_challenge import second_step
from auth_server.web.render import render, text
from auth_server.web.signin_page import signin_refused
from auth_server.web.sso import (
    CsrfDep,
    clear_sso_cookie,
    current_browser_session,
    open_browser_session,
    safe_next,
    set_sso_cookie,
)

router = APIRouter(include_in_schema=False)

NOTICES = {
    "signed_out": N_("You are signed out."),
    "verified": N_("Your email address is verified. You can sign in now."),
    "reset": N_("Your password was reset. Please sign in with the new one."),
}


@router.get("/signin")
def signin_page(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    next: str = "",
    force: str = "",
    login_hint: str = "",
    notice: str = "",
) -> Response:
    target = safe_next(next)
    # Already signed in: straight on, unless the caller needs the password again.
    if not force and current_browser_session(request, services, db) is not None:
        return RedirectResponse(target, status_code=303)
    return render(
        request,
        "signin.html",
        # static/passkeys.js: the passwordless sign-in's WebAuthn call.
        script=True,
        next=target,
        force=bool(force),
        email=login_hint[:254],
        notice=text(request, NOTICES[notice]) if notice in NOTICES else "",
        error="",
        unverified=False,
    )


@router.post("/signin", dependencies=[CsrfDep])
def signin(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
    force: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    target = safe_next(next)
    try:
        identity = services.login.identify(db, email, password, client)
    except AuthError as exc:
        # One page for unknown e-mail and wrong password: the message is the error's own.
        return signin_refused(request, exc, target, force=bool(force), email=email)
    # A second factor enrolled, or demanded by an organization: no session before it.
    second = second_step(services, db, client, identity, target)
    if second is not None:
        return second
    session_id, secret = open_browser_session(request, services, db, client, identity)
    response = RedirectResponse(target, status_code=303)
    # A new cookie value at every sign-in: no session fixation.
    set_sso_cookie(response, services, session_id, secret)
    return response


@router.post("/signout", dependencies=[CsrfDep])
def signout(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    # Not touched: the session ends here.
    current = current_browser_session(request, services, db, touch=False)
    if current is not None:
        services.self_service.sign_out(db, current.user, current.session_id, client)
    response = RedirectResponse("/signin?notice=signed_out", status_code=303)
    clear_sso_cookie(response, services)
    return response
