"""The account page: profile, change password, sessions (sign out each, or everywhere).

Every action needs the browser session; each calls the JSON API's own use case.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.api.deps import ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.errors import AuthError
from auth_server.i18n import N_
from auth_server.models import AuthSession
from auth_server.services import Services
from auth_server.web.csrf import CsrfDep
from auth_server.web.render import refused, render, text
from auth_server.web.sso import (
    BrowserSession,
    clear_sso_cookie,
    current_browser_session,
    signin_redirect,
)

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
ACCOUNT = "/account"
NOTICES = {
    "profile": N_("Your profile was saved."),
    "password": N_("Your password was changed. Your other sessions were signed out."),
    "session": N_("That session was signed out."),
    "joined": N_("You joined the organization."),
    "passkey_added": N_("Your passkey was added."),
    "passkey_renamed": N_("Your passkey was renamed."),
    "passkey_deleted": N_("Your passkey was deleted."),
    "two_step_off": N_("Two-step verification is turned off."),
}


def _when(session: AuthSession, column: str) -> str:
    moment = getattr(session, column)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _page(
    request: Request,
    services: Services,
    db: Session,
    current: BrowserSession,
    *,
    profile: dict[str, str] | None = None,
    **context: Any,
) -> dict[str, Any]:
    user = current.user
    sessions = [
        {
            "id": str(session.id),
            "device": session.user_agent or text(request, N_("Unknown device")),
            "ip": session.ip_address,
            "created": _when(session, "created_at"),
            "last_used": _when(session, "last_used_at"),
            "browser": session.browser_hash is not None,
            "current": session.id == current.session_id,
        }
        for session in services.sessions.active_sessions(db, user.id)
    ]
    return {
        "user": user,
        "sessions": sessions,
        "passkeys": services.passkeys.of_user(db, user.id),
        # The "Two-step verification" section (web/two_step.py).
        "two_step": services.mfa_enrolment.status(db, user),
        "profile": profile
        or {"firstName": user.first_name, "lastName": user.last_name, "phone": user.phone or ""},
        **context,
    }


def _signed_out(services: Services, to: str = "/signin?notice=signed_out") -> Response:
    """This browser's session has ended: its cookie goes, and so does the visitor."""
    response = RedirectResponse(to, status_code=303)
    clear_sso_cookie(response, services)
    return response


@router.get(ACCOUNT)
def account_page(request: Request, services: ServicesDep, db: DbDep, notice: str = "") -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    notice_text = text(request, NOTICES[notice]) if notice in NOTICES else ""
    return render(
        request,
        "account.html",
        # static/passkeys.js: the passkeys section's WebAuthn calls.
        script=True,
        **_page(request, services, db, current, notice=notice_text, error=""),
    )


@router.post(f"{ACCOUNT}/profile", dependencies=[CsrfDep])
def update_profile(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    firstName: Text = "",
    lastName: Text = "",
    phone: Text = "",
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    profile = {"firstName": firstName, "lastName": lastName, "phone": phone}
    try:
        services.self_service.update_profile(
            db, current.user, client, first_name=firstName, last_name=lastName, phone=phone
        )
    except AuthError as exc:
        return refused(
            request,
            "account.html",
            exc,
            script=True,
            **_page(request, services, db, current, profile=profile),
        )
    return RedirectResponse(f"{ACCOUNT}?notice=profile#profile", status_code=303)


@router.post(f"{ACCOUNT}/password", dependencies=[CsrfDep])
def change_password(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
    currentPassword: Text = "",
    newPassword: Text = "",
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        # The API's flow: the same lockout budget and audit; this browser stays signed in.
        services.password_flows.change(
            db,
            current.user,
            currentPassword,
            newPassword,
            client,
            locale,
            keep_session=current.session_id,
        )
    except AuthError as exc:
        return refused(
            request, "account.html", exc, script=True, **_page(request, services, db, current)
        )
    return RedirectResponse(f"{ACCOUNT}?notice=password", status_code=303)


@router.post(f"{ACCOUNT}/sessions/{{session_id}}/revoke", dependencies=[CsrfDep])
def revoke_session(
    session_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        services.self_service.revoke_session(db, current.user, session_id, client)
    except AuthError as exc:
        return refused(
            request, "account.html", exc, script=True, **_page(request, services, db, current)
        )
    if session_id == current.session_id:
        return _signed_out(services)
    return RedirectResponse(f"{ACCOUNT}?notice=session#sessions", status_code=303)


@router.post(f"{ACCOUNT}/logout-all", dependencies=[CsrfDep])
def logout_all(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    services.self_service.logout_all(db, current.user, client)
    return _signed_out(services)
