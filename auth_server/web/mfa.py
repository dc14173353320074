"""The hosted sign-in's second step: after the password, a code from the authenticator
app or a recovery code; enrolment first when only an organization's policy demands a
factor; and the step-up of a browser session signed in with a password alone that an OpenID
Connect client asked to have a second factor (`acr_values`). The pending step itself (its
cookie, its start and end) is web/mfa_challenge.py's.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.amr import AMR_OTP
from auth_server.api.deps import ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.errors import AuthError, InvalidMfaCode, InvalidMfaToken, ValidationFailed
from auth_server.i18n import N_
from auth_server.mfa import METHOD_TOTP, METHOD_WEBAUTHN
from auth_server.mfa.totp import TotpEnrolment
from auth_server.models import User
from auth_server.services import Services
from auth_server.sessions import ClientInfo
from auth_server.web.csrf import CsrfDep
from auth_server.web.mfa_challenge import (
    MFA_PATH,
    PASSKEY_PATH,
    SETUP_PATH,
    pending_login,
    restart,
    signed_in,
    wrong_code,
)
from auth_server.web.render import error_headers, error_text, render
from auth_server.web.sso import safe_next

router = APIRouter(include_in_schema=False)

Code = Annotated[str, Form(max_length=64)]
Next = Annotated[str, Form(max_length=2048)]
RECOVERY = "recovery"


# -- the code (or a recovery code) ---------------------------------------------------------


def _code_page(
    request: Request,
    target: str,
    recovery: bool,
    passkey: bool = False,
    exc: AuthError | None = None,
) -> Response:
    field = "recoveryCode" if recovery else "code"
    # The link to the other kind of code.
    other = {"next": target} if recovery else {"next": target, "method": RECOVERY}
    return render(
        request,
        "mfa_verify.html",
        status_code=exc.status_code if exc else 200,
        headers=error_headers(exc) if exc else None,
        errors={field: [error_text(request, exc)]} if exc else None,
        error=error_text(request, exc) if exc else "",
        next=target,
        recovery=recovery,
        action=MFA_PATH,
        switch=f"{MFA_PATH}?{urlencode(other)}",
        passkey=f"{PASSKEY_PATH}?{urlencode({'next': target})}" if passkey else "",
    )


@router.get(MFA_PATH)
def code_page(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    next: str = "",
    method: str = "",
) -> Response:
    target = safe_next(next)
    try:
        pending = pending_login(request, services, db, client)
    except InvalidMfaToken as exc:
        return restart(request, services, exc, target)
    if pending.setup_required:
        return RedirectResponse(f"{SETUP_PATH}?{urlencode({'next': target})}", status_code=303)
    methods = services.mfa.methods(db, pending.identity.user.id)
    # Passkeys only: their own step (web/passkeys.py); with an app too, a link to it.
    if METHOD_TOTP not in methods:
        return RedirectResponse(f"{PASSKEY_PATH}?{urlencode({'next': target})}", status_code=303)
    return _code_page(request, target, method == RECOVERY, METHOD_WEBAUTHN in methods)


@router.post(MFA_PATH, dependencies=[CsrfDep])
def verify_code(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
    code: Code = "",
    recoveryCode: Code = "",
    method: Annotated[str, Form(max_length=16)] = "",
    next: Next = "",
) -> Response:
    target = safe_next(next)
    recovery = method == RECOVERY
    # Spaces people type between the digits are no part of the code.
    given = "".join((recoveryCode if recovery else code).split())
    try:
        # Per IP, like the JSON API's /mfa/verify: codes are short, guesses must be few.
        services.limits.hit_ip("mfa-verify", client.ip_address)
        pending = pending_login(request, services, db, client)
        if not given:
            return _code_page(request, target, recovery, exc=ValidationFailed(N_("Enter the code")))
        identity = services.mfa_verification.verify(
            db,
            pending,
            client,
            locale,
            code=None if recovery else given,
            recovery_code=given if recovery else None,
        )
    except InvalidMfaCode as exc:
        return wrong_code(
            request, services, db, client, exc, target,
            lambda error: _code_page(request, target, recovery, exc=error),
        )  # fmt: skip
    except AuthError as exc:
        # Expired, used, locked out, rate-limited: the attempt starts again.
        return restart(request, services, exc, target)
    return signed_in(
        request, services, db, client, identity, RedirectResponse(target, status_code=303)
    )


# -- enrolment while signing in (an organization's policy, or a client's acr_values) ---


def enrolment(services: Services, db: Session, user: User, client: ClientInfo) -> TotpEnrolment:
    """The authenticator app being set up: the one started and not yet confirmed (a page
    reloaded, a wrong first code), else a new secret."""
    started = services.mfa_enrolment.totp.unconfirmed(db, user.id, user.email)
    return started or services.mfa_enrolment.setup(db, user, client)


def setup_page(
    request: Request,
    setup: TotpEnrolment,
    *,
    action: str,
    next: str,
    cancel: str,
    reason: str = "",
    exc: AuthError | None = None,
) -> Response:
    """The enrolment form: QR code, the secret for typing in, the first code."""
    return render(
        request,
        "mfa_setup.html",
        status_code=exc.status_code if exc else 200,
        headers=error_headers(exc) if exc else None,
        errors={"code": [error_text(request, exc)]} if exc else None,
        error=error_text(request, exc) if exc else "",
        # The QR code is segno's SVG of our own otpauth URI: markup we made, inlined (the
        # pages' CSP allows no data: images).
        qr_svg=setup.qr_svg,
        secret=setup.secret,
        action=action,
        next=next,
        cancel=cancel,
        reason=reason,
    )


def _reason(services: Services, user: User) -> str:
    """Why this sign-in must set a factor up: an organization's "policy", or the "service"
    signed in to asked for one (OIDC acr_values)."""
    return "policy" if services.mfa.policy_requires(user) else "service"


def recovery_codes_page(request: Request, codes: list[str], next: str) -> Response:
    """The recovery codes, shown this once (only their hashes are kept)."""
    return render(request, "mfa_recovery_codes.html", codes=codes, next=next)


@router.get(SETUP_PATH)
def signin_setup_page(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep, next: str = ""
) -> Response:
    target = safe_next(next)
    try:
        pending = pending_login(request, services, db, client)
        if not pending.setup_required:
            return RedirectResponse(f"{MFA_PATH}?{urlencode({'next': target})}", status_code=303)
        setup = enrolment(services, db, pending.identity.user, client)
    except AuthError as exc:
        return restart(request, services, exc, target)
    reason = _reason(services, pending.identity.user)
    return setup_page(
        request, setup, action=SETUP_PATH, next=target, cancel="/signin", reason=reason
    )


@router.post(SETUP_PATH, dependencies=[CsrfDep])
def signin_setup(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    code: Code = "",
    next: Next = "",
) -> Response:
    target = safe_next(next)
    try:
        # Per IP, like the JSON API's /totp/confirm.
        services.limits.hit_ip("mfa-confirm", client.ip_address)
        pending = pending_login(request, services, db, client)
        if not pending.setup_required:
            raise InvalidMfaToken()
    except AuthError as exc:
        return restart(request, services, exc, target)
    user = pending.identity.user
    try:
        try:
            codes = services.mfa_enrolment.confirm(db, user, "".join(code.split()), client)
        except InvalidMfaCode:
            # Counted against the attempt like a wrong second factor (the fifth ends it).
            services.mfa_challenges.failed(db, pending, client)
        identity = services.mfa_challenges.passed(db, pending, AMR_OTP)
    except InvalidMfaCode as exc:
        return wrong_code(
            request, services, db, client, exc, target,
            lambda error: setup_page(
                request, enrolment(services, db, user, client), action=SETUP_PATH,
                next=target, cancel="/signin", reason=_reason(services, user), exc=error,
            ),
        )  # fmt: skip
    except AuthError as exc:
        return restart(request, services, exc, target)
    # One commit: the confirmed factor, its recovery codes, the spent challenge, the session.
    return signed_in(
        request, services, db, client, identity, recovery_codes_page(request, codes, target)
    )
