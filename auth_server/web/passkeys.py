"""Passkeys on the hosted pages: add, rename and delete them on /account; sign in with one
on /signin (passwordless), or prove one as the second step after the password
(/signin/mfa/passkey, beside web/mfa.py's code page, on the same pending challenge).

static/passkeys.js asks for the options (a form post with the CSRF token, answered in JSON),
runs the browser's WebAuthn call, puts the credential's JSON in the form's hidden
`credential` field and sends the form: the answer is then a page like any form's. Each
action is the JSON API's own use case.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.errors import AuthError, InvalidMfaCode, InvalidToken
from auth_server.i18n import N_
from auth_server.mfa import METHOD_TOTP
from auth_server.mfa.challenges import PendingLogin
from auth_server.services import Services
from auth_server.web.account_page import ACCOUNT, account_action
from auth_server.web.csrf import CsrfDep
from auth_server.web.mfa_challenge import (
    MFA_COOKIE,
    MFA_PATH,
    PASSKEY_PATH,
    pending_login,
    restart,
    signed_in,
    wrong_code,
)
from auth_server.web.render import error_headers, error_text, render
from auth_server.web.signin_page import signin_refused
from auth_server.web.sso import (
    current_browser_session,
    open_browser_session,
    safe_next,
    set_sso_cookie,
)

router = APIRouter(include_in_schema=False)

PASSKEYS = f"{ACCOUNT}/passkeys"
# A credential's JSON: its attestation or signature, a few hundred bytes to a few KiB.
Credential = Annotated[str, Form(max_length=32 * 1024)]
Name = Annotated[str, Form(max_length=100)]


def _credential(raw: str) -> Any:
    """The form's credential field, parsed (None when it is no JSON at all): the service
    refuses anything but a credential object."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


# -- /account ------------------------------------------------------------------------------


@router.post(f"{PASSKEYS}/options", dependencies=[CsrfDep])
def register_options(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        # Asked by the page's script: the JSON envelope, which it reads as a failure.
        raise InvalidToken()
    return success(services.passkeys.registration_options(db, current.user, client))


@router.post(PASSKEYS, dependencies=[CsrfDep])
def add_passkey(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    credential: Credential = "",
    passkeyName: Name = "",
) -> Response:
    return account_action(
        request,
        services,
        db,
        lambda current: services.passkeys.register(
            db, current.user, _credential(credential), passkeyName, client
        ),
        "passkey_added#passkeys",
    )


@router.post(f"{PASSKEYS}/{{passkey_id}}/rename", dependencies=[CsrfDep])
def rename_passkey(
    passkey_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    name: Name = "",
) -> Response:
    return account_action(
        request,
        services,
        db,
        lambda current: services.passkeys.rename(db, current.user, passkey_id, name, client),
        "passkey_renamed#passkeys",
    )


@router.post(f"{PASSKEYS}/{{passkey_id}}/delete", dependencies=[CsrfDep])
def delete_passkey(
    passkey_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> Response:
    return account_action(
        request,
        services,
        db,
        lambda current: services.passkeys.remove(db, current.user, passkey_id, client),
        "passkey_deleted#passkeys",
    )


# -- /signin -------------------------------------------------------------------------------


@router.post("/signin/passkey/options", dependencies=[CsrfDep])
def signin_options(services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    return success(services.passkeys.login_options(db, client))


@router.post("/signin/passkey", dependencies=[CsrfDep])
def signin_with_passkey(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    credential: Credential = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    target = safe_next(next)
    try:
        identity = services.passkeys.identify(db, _credential(credential), client)
        session_id, secret = open_browser_session(request, services, db, client, identity)
    except AuthError as exc:
        return signin_refused(request, exc, target)
    response = RedirectResponse(target, status_code=303)
    # A new cookie value at every sign-in: no session fixation.
    set_sso_cookie(response, services, session_id, secret)
    return response


# -- /signin/mfa/passkey: the second step ---------------------------------------------------

MFA_PASSKEY = PASSKEY_PATH
WRONG_PASSKEY = N_("This passkey was not accepted. Try again, or start again.")


def _second_step_page(
    request: Request,
    services: Services,
    db: Session,
    pending: PendingLogin,
    target: str,
    exc: AuthError | None = None,
) -> Response:
    methods = services.mfa.methods(db, pending.identity.user.id)
    return render(
        request,
        "mfa_passkey.html",
        status_code=exc.status_code if exc else 200,
        headers=error_headers(exc) if exc else None,
        script=True,
        error=error_text(request, exc) if exc else "",
        next=target,
        # The link to the code page, for a user who also has an authenticator app.
        code=f"{MFA_PATH}?{urlencode({'next': target})}" if METHOD_TOTP in methods else "",
    )


@router.get(MFA_PASSKEY)
def second_step_page(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep, next: str = ""
) -> Response:
    target = safe_next(next)
    try:
        pending = pending_login(request, services, db, client)
    except AuthError as exc:
        return restart(request, services, exc, target)
    return _second_step_page(request, services, db, pending, target)


@router.post(f"{MFA_PASSKEY}/options", dependencies=[CsrfDep])
def second_step_options(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    # The pending login is the challenge cookie's (sent to /signin/mfa/... only).
    token = request.cookies.get(MFA_COOKIE, "")
    return success(services.passkeys.second_factor_options(db, token, client))


@router.post(MFA_PASSKEY, dependencies=[CsrfDep])
def second_step(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    credential: Credential = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    target = safe_next(next)
    try:
        # Per IP, like the code page and the JSON API's /mfa/verify.
        services.limits.hit_ip("mfa-verify", client.ip_address)
        pending = pending_login(request, services, db, client)
        identity = services.passkeys.second_factor(db, pending, _credential(credential), client)
    except InvalidMfaCode as exc:
        return wrong_code(
            request, services, db, client, exc, target,
            # Said of the passkey, not of a code (the status and counting stay the same).
            lambda _: _second_step_page(
                request, services, db, pending, target, InvalidMfaCode(WRONG_PASSKEY)
            ),
        )  # fmt: skip
    except AuthError as exc:
        # Expired, used, locked out, rate-limited: the attempt starts again.
        return restart(request, services, exc, target)
    return signed_in(
        request, services, db, client, identity, RedirectResponse(target, status_code=303)
    )
