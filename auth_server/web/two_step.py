"""The account page's "Two-step verification" section: set up an authenticator app (QR
code, then a first code), see the recovery codes once, replace them, turn it off.

Each action needs the browser session and calls the JSON API's own use case
(auth_server/mfa/enrolment.py); replacing the codes and turning the app off also need the
current password or a current code, so a browser left signed in is not enough.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError, InvalidMfaCode
from auth_server.mfa.enrolment import Proof
from auth_server.services import Services
from auth_server.web.account import ACCOUNT, _page
from auth_server.web.csrf import CsrfDep
from auth_server.web.mfa import enrolment, recovery_codes_page, setup_page
from auth_server.web.render import error_headers, error_text, render, text
from auth_server.web.sso import BrowserSession, current_browser_session, signin_redirect

router = APIRouter(include_in_schema=False)

SECTION = f"{ACCOUNT}/two-step"
BACK = f"{ACCOUNT}#two-step"
Code = Annotated[str, Form(max_length=64)]
Password = Annotated[str, Form(max_length=1024)]
# The section's own field names (the page has another password field): the use case's
# field names mapped onto them.
_FIELDS = {"password": "mfaPassword", "code": "mfaCode"}


def _account_refused(
    request: Request, services: Services, db: Session, current: BrowserSession, exc: AuthError
) -> Response:
    """The account page with the section's refusal: a banner, and the error on its field."""
    errors = {
        _FIELDS.get(field, field): [text(request, problem) for problem in problems]
        for field, problems in (exc.errors or {}).items()
    }
    if isinstance(exc, InvalidMfaCode):
        errors["mfaCode"] = [error_text(request, exc)]
    return render(
        request,
        "account.html",
        status_code=exc.status_code,
        # static/passkeys.js: the passkeys section.
        script=True,
        headers=error_headers(exc),
        errors=errors,
        error=error_text(request, exc),
        notice="",
        **_page(request, services, db, current),
    )


def _proof(mfaPassword: str, mfaCode: str) -> Proof:
    return Proof(password=mfaPassword or None, code="".join(mfaCode.split()) or None)


@router.post(f"{SECTION}/setup", dependencies=[CsrfDep])
def start_setup(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        setup = enrolment(services, db, current.user, client)
    except AuthError as exc:
        return _account_refused(request, services, db, current, exc)
    return setup_page(request, setup, action=f"{SECTION}/confirm", next=BACK, cancel=BACK)


@router.post(f"{SECTION}/confirm", dependencies=[CsrfDep])
def confirm(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep, code: Code = ""
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        # Per IP, like the JSON API's /totp/confirm: six digits must not be guessable.
        services.limits.hit_ip("mfa-confirm", client.ip_address)
        codes = services.mfa_enrolment.confirm(db, current.user, "".join(code.split()), client)
    except InvalidMfaCode as exc:
        setup = enrolment(services, db, current.user, client)
        return setup_page(
            request, setup, action=f"{SECTION}/confirm", next=BACK, cancel=BACK,
            exc=exc,
        )  # fmt: skip
    except AuthError as exc:
        return _account_refused(request, services, db, current, exc)
    db.commit()
    return recovery_codes_page(request, codes, BACK)


@router.post(f"{SECTION}/recovery-codes", dependencies=[CsrfDep])
def regenerate(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    mfaPassword: Password = "",
    mfaCode: Code = "",
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        codes = services.mfa_enrolment.regenerate(
            db, current.user, _proof(mfaPassword, mfaCode), client
        )
    except AuthError as exc:
        return _account_refused(request, services, db, current, exc)
    return recovery_codes_page(request, codes, BACK)


@router.post(f"{SECTION}/disable", dependencies=[CsrfDep])
def disable(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    mfaPassword: Password = "",
    mfaCode: Code = "",
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        services.mfa_enrolment.disable(db, current.user, _proof(mfaPassword, mfaCode), client)
    except AuthError as exc:
        return _account_refused(request, services, db, current, exc)
    return RedirectResponse(f"{ACCOUNT}?notice=two_step_off#two-step", status_code=303)
