"""The account page's "Two-step verification" section: set up an authenticator app (QR
code, then a first code), see the recovery codes once, replace them, turn it off.

Each action needs the browser session and calls the JSON API's own use case
(auth_server/mfa/enrolment.py); replacing the codes and turning the app off also need the
current password or a current code, so a browser left signed in is not enough.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import InvalidMfaCode
from auth_server.mfa.enrolment import Proof
from auth_server.web.account_page import ACCOUNT, account_action
from auth_server.web.csrf import CsrfDep
from auth_server.web.mfa import enrolment, recovery_codes_page, setup_page
from auth_server.web.sso import BrowserSession

router = APIRouter(include_in_schema=False)

SECTION = f"{ACCOUNT}/two-step"
BACK = f"{ACCOUNT}#two-step"
Code = Annotated[str, Form(max_length=64)]
Password = Annotated[str, Form(max_length=1024)]


def _proof(mfaPassword: str, mfaCode: str) -> Proof:
    return Proof(password=mfaPassword or None, code="".join(mfaCode.split()) or None)


@router.post(f"{SECTION}/setup", dependencies=[CsrfDep])
def start_setup(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    def start(current: BrowserSession) -> Response:
        setup = enrolment(services, db, current.user, client)
        return setup_page(request, setup, action=f"{SECTION}/confirm", next=BACK, cancel=BACK)

    return account_action(request, services, db, start)


@router.post(f"{SECTION}/confirm", dependencies=[CsrfDep])
def confirm(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep, code: Code = ""
) -> Response:
    def first_code(current: BrowserSession) -> Response:
        # Per IP, like the JSON API's /totp/confirm: six digits must not be guessable.
        services.limits.hit_ip("mfa-confirm", client.ip_address)
        try:
            codes = services.mfa_enrolment.confirm(db, current.user, "".join(code.split()), client)
        except InvalidMfaCode as exc:
            # The setup page again, its code field with the error.
            setup = enrolment(services, db, current.user, client)
            return setup_page(
                request, setup, action=f"{SECTION}/confirm", next=BACK, cancel=BACK, exc=exc
            )
        db.commit()
        return recovery_codes_page(request, codes, BACK)

    return account_action(request, services, db, first_code)


@router.post(f"{SECTION}/recovery-codes", dependencies=[CsrfDep])
def regenerate(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    mfaPassword: Password = "",
    mfaCode: Code = "",
) -> Response:
    def replace(current: BrowserSession) -> Response:
        proof = _proof(mfaPassword, mfaCode)
        codes = services.mfa_enrolment.regenerate(db, current.user, proof, client)
        return recovery_codes_page(request, codes, BACK)

    return account_action(request, services, db, replace)


@router.post(f"{SECTION}/disable", dependencies=[CsrfDep])
def disable(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    mfaPassword: Password = "",
    mfaCode: Code = "",
) -> Response:
    return account_action(
        request,
        services,
        db,
        lambda current: services.mfa_enrolment.disable(
            db, current.user, _proof(mfaPassword, mfaCode), client
        ),
        "two_step_off#two-step",
    )
