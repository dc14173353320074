"""Sign in and sign out of the hosted pages: the browser session's two ends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError, EmailNotVerified
from auth_server.web.render import error_headers, error_text, render, text
from auth_server.web.sso import (
    CsrfDep,
    clear_sso_cookie,
    current_browser_session,
    end_browser_session,
    safe_next,
    set_sso_cookie,
)

router = APIRouter(include_in_schema=False)

NOTICES = {
    "signed_out": "You are signed out.",
    "verified": "Your email address is verified. You can sign in now.",
    "reset": "Your password was reset. Please sign in with the new one.",
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
    previous = current_browser_session(request, services, db)
    try:
        # The JSON API's flow: the same limits, lockout, audit and answers.
        identity = services.login.identify(db, email, password, client)
        session_id, secret = services.login.issue_browser_session(
            db, identity, client, services.settings.sso_session_ttl
        )
    except AuthError as exc:
        # One page for unknown e-mail and wrong password: the message is the error's own.
        return render(
            request,
            "signin.html",
            status_code=exc.status_code,
            headers=error_headers(exc),
            next=target,
            force=bool(force),
            email=email,
            notice="",
            error=error_text(request, exc),
            unverified=isinstance(exc, EmailNotVerified),
        )
    if previous is not None and previous.session_id != session_id:
        # A new sign-in in this browser replaces its old session rather than orphan it.
        end_browser_session(db, services, previous.session_id, reason="signed_in_again")
        db.commit()
    response = RedirectResponse(target, status_code=303)
    # A new cookie value at every sign-in: no session fixation.
    set_sso_cookie(response, services, session_id, secret)
    return response


@router.post("/signout", dependencies=[CsrfDep])
def signout(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    current = current_browser_session(request, services, db)
    if current is not None:
        end_browser_session(db, services, current.session_id, reason="logout")
        services.audit.add(
            db,
            "logout",
            client=client,
            email=current.user.email,
            user_id=current.user.id,
            details={"session": str(current.session_id), "via": "browser"},
        )
        db.commit()  # the revocation, its feed event and the audit row together
    response = RedirectResponse("/signin?notice=signed_out", status_code=303)
    clear_sso_cookie(response, services)
    return response
