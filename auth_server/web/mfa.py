"""The hosted sign-in's second step: after the password, a code from the authenticator
app or a recovery code; enrolment first when only an organization's policy demands a
factor; and the step-up of a browser session signed in with a password alone that an OpenID
Connect client asked to have a second factor (`acr_values`).

The pending step is the JSON API's challenge (auth_server/mfa/challenges.py): its token
lives in an HttpOnly cookie of its own, for the challenge's five minutes and only under
/signin/mfa; the challenge is bound to the client address, single-use, and ends at the fifth
wrong code. The browser session is issued only once the second factor is right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.api.deps import ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.errors import AuthError, InvalidMfaCode, InvalidMfaToken, ValidationFailed
from auth_server.i18n import N_
from auth_server.mfa import AMR_OTP, METHOD_TOTP, METHOD_WEBAUTHN
from auth_server.mfa.challenges import MfaChallenge, PendingLogin
from auth_server.mfa.totp import TotpEnrolment
from auth_server.models import User
from auth_server.services import Services
from auth_server.sessions import ClientInfo, Identity
from auth_server.web.csrf import CsrfDep
from auth_server.web.render import error_headers, error_text, refused, render
from auth_server.web.sso import (
    BrowserSession,
    open_browser_session,
    safe_next,
    set_sso_cookie,
)

router = APIRouter(include_in_schema=False)

MFA_PATH = "/signin/mfa"
SETUP_PATH = f"{MFA_PATH}/setup"
PASSKEY_PATH = f"{MFA_PATH}/passkey"  # web/passkeys.py
MFA_COOKIE = "rz_mfa"
Code = Annotated[str, Form(max_length=64)]
Next = Annotated[str, Form(max_length=2048)]
RECOVERY = "recovery"
# The `restart` text when the fifth wrong code ended the attempt (the lockout says its own).
TOO_MANY_CODES = N_("Too many wrong codes. Please sign in again.")


def second_step(
    services: Services, db: Session, client: ClientInfo, identity: Identity, target: str
) -> Response | None:
    """After a right password: the way to the second step when the user has a factor or a
    policy demands one; None when the browser session may be issued at once."""
    challenge = services.mfa_verification.challenge(db, identity, client)
    return None if challenge is None else _to_challenge(services, challenge, target)


def step_up(
    services: Services, db: Session, client: ClientInfo, browser: BrowserSession, target: str
) -> Response:
    """The second step for a browser session signed in without one: the user's factor,
    or enrolment when they have none yet. Passing it replaces the browser session."""
    user = browser.user
    identity = Identity(user=user, credentials_version=user.credentials_version, amr=browser.amr)
    challenge = services.mfa_verification.challenge(
        db, identity, client
    ) or services.mfa_challenges.begin(db, identity, client, setup_required=True)
    return _to_challenge(services, challenge, target)


def _to_challenge(services: Services, challenge: MfaChallenge, target: str) -> Response:
    path = SETUP_PATH if challenge.setup_required else MFA_PATH
    response = RedirectResponse(f"{path}?{urlencode({'next': target})}", status_code=303)
    response.set_cookie(
        MFA_COOKIE,
        challenge.token,
        max_age=challenge.expires_in,
        # Only the second step's pages receive it; no script reads it; never over plain
        # HTTP in production. Lax: the step follows a top-level navigation.
        path=MFA_PATH,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
    )
    return response


def _clear_challenge(response: Response, services: Services) -> None:
    response.delete_cookie(
        MFA_COOKIE,
        path=MFA_PATH,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
    )


def _pending(request: Request, services: Services, db: Session, client: ClientInfo) -> PendingLogin:
    """The live challenge of this browser's cookie; InvalidMfaToken when none."""
    return services.mfa_challenges.pending(db, request.cookies.get(MFA_COOKIE, ""), client)


def _restart(request: Request, services: Services, exc: AuthError, target: str) -> Response:
    """The attempt is over (expired, used, too many wrong codes, locked out): the sign-in
    page with the reason, its status and Retry-After; the challenge's cookie dropped."""
    response = refused(
        request,
        "signin.html",
        exc,
        # static/passkeys.js: the passwordless sign-in.
        script=True,
        next=target,
        force=False,
        email="",
        unverified=False,
    )
    _clear_challenge(response, services)
    return response


def _signed_in(
    request: Request,
    services: Services,
    db: Session,
    client: ClientInfo,
    identity: Identity,
    response: Response,
) -> Response:
    """The browser session of a passed second step (committed), its cookie on `response`."""
    session_id, secret = open_browser_session(request, services, db, client, identity)
    # A new cookie value at every sign-in: no session fixation.
    set_sso_cookie(response, services, session_id, secret)
    _clear_challenge(response, services)
    return response


def _still_live(request: Request, services: Services, db: Session, client: ClientInfo) -> bool:
    try:
        _pending(request, services, db, client)
    except InvalidMfaToken:
        return False
    return True


def _wrong_code(
    request: Request,
    services: Services,
    db: Session,
    client: ClientInfo,
    exc: InvalidMfaCode,
    target: str,
    again: Callable[[InvalidMfaCode], Response],
) -> Response:
    """A wrong code: the form again with the error on its field, or, when that was the
    fifth, the sign-in page (the attempt has ended)."""
    if not _still_live(request, services, db, client):
        return _restart(request, services, InvalidMfaToken(TOO_MANY_CODES), target)
    return again(exc)


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
        pending = _pending(request, services, db, client)
    except InvalidMfaToken as exc:
        return _restart(request, services, exc, target)
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
        pending = _pending(request, services, db, client)
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
        return _wrong_code(
            request, services, db, client, exc, target,
            lambda error: _code_page(request, target, recovery, exc=error),
        )  # fmt: skip
    except AuthError as exc:
        # Expired, used, locked out, rate-limited: the attempt starts again.
        return _restart(request, services, exc, target)
    return _signed_in(
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
        pending = _pending(request, services, db, client)
        if not pending.setup_required:
            return RedirectResponse(f"{MFA_PATH}?{urlencode({'next': target})}", status_code=303)
        setup = enrolment(services, db, pending.identity.user, client)
    except AuthError as exc:
        return _restart(request, services, exc, target)
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
        pending = _pending(request, services, db, client)
        if not pending.setup_required:
            raise InvalidMfaToken()
    except AuthError as exc:
        return _restart(request, services, exc, target)
    user = pending.identity.user
    try:
        try:
            codes = services.mfa_enrolment.confirm(db, user, "".join(code.split()), client)
        except InvalidMfaCode:
            # Counted against the attempt like a wrong second factor (the fifth ends it).
            services.mfa_challenges.failed(db, pending, client)
        identity = services.mfa_challenges.passed(db, pending, AMR_OTP)
    except InvalidMfaCode as exc:
        return _wrong_code(
            request, services, db, client, exc, target,
            lambda error: setup_page(
                request, enrolment(services, db, user, client), action=SETUP_PATH,
                next=target, cancel="/signin", reason=_reason(services, user), exc=error,
            ),
        )  # fmt: skip
    except AuthError as exc:
        return _restart(request, services, exc, target)
    # One commit: the confirmed factor, its recovery codes, the spent challenge, the session.
    return _signed_in(
        request, services, db, client, identity, recovery_codes_page(request, codes, target)
    )
