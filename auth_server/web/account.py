"""The account page: profile, change password, sessions (sign out each, or everywhere).

Every action needs the browser session; each calls the JSON API's own use case.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.i18n import N_
from auth_server.services import Services
from auth_server.web.account_page import ACCOUNT, account_action, account_context
from auth_server.web.csrf import CsrfDep
from auth_server.web.render import render, text
from auth_server.web.sso import (
    BrowserSession,
    clear_sso_cookie,
    current_browser_session,
    signin_redirect,
)

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
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
        **account_context(request, services, db, current, notice=notice_text, error=""),
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
    return account_action(
        request,
        services,
        db,
        lambda current: services.self_service.update_profile(
            db, current.user, client, first_name=firstName, last_name=lastName, phone=phone
        ),
        "profile#profile",
        # Refused: the form as typed.
        profile={"firstName": firstName, "lastName": lastName, "phone": phone},
    )


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
    # The API's flow: the same lockout budget and audit; this browser stays signed in.
    return account_action(
        request,
        services,
        db,
        lambda current: services.password_flows.change(
            db,
            current.user,
            currentPassword,
            newPassword,
            client,
            locale,
            keep_session=current.session_id,
        ),
        "password",
    )


@router.post(f"{ACCOUNT}/sessions/{{session_id}}/revoke", dependencies=[CsrfDep])
def revoke_session(
    session_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> Response:
    def revoke(current: BrowserSession) -> Response | None:
        services.self_service.revoke_session(db, current.user, session_id, client)
        # This browser's own session: signed out.
        return _signed_out(services) if session_id == current.session_id else None

    return account_action(request, services, db, revoke, "session#sessions")


@router.post(f"{ACCOUNT}/logout-all", dependencies=[CsrfDep])
def logout_all(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    services.self_service.logout_all(db, current.user, client)
    return _signed_out(services)
