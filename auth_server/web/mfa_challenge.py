"""The pending second step of a hosted sign-in, shared by its pages (web/mfa.py's code and
enrolment pages, web/passkeys.py's passkey page): how a step begins, ends, or restarts.

The pending step is the JSON API's challenge (auth_server/mfa/challenges.py): its token
lives in an HttpOnly cookie of its own, for the challenge's five minutes and only under
/signin/mfa; the challenge is bound to the client address, single-use, and ends at the fifth
wrong code. The browser session is issued only once the second factor is right.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.errors import AuthError, InvalidMfaCode, InvalidMfaToken
from auth_server.i18n import N_
from auth_server.mfa.challenges import MfaChallenge, PendingLogin
from auth_server.services import Services
from auth_server.sessions import ClientInfo, Identity
from auth_server.web.signin_page import signin_refused
from auth_server.web.sso import BrowserSession, open_browser_session, set_sso_cookie

MFA_PATH = "/signin/mfa"
SETUP_PATH = f"{MFA_PATH}/setup"
PASSKEY_PATH = f"{MFA_PATH}/passkey"  # web/passkeys.py
MFA_COOKIE = "rz_mfa"
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


def pending_login(
    request: Request, services: Services, db: Session, client: ClientInfo
) -> PendingLogin:
    """The live challenge of this browser's cookie; InvalidMfaToken when none."""
    return services.mfa_challenges.pending(db, request.cookies.get(MFA_COOKIE, ""), client)


def restart(request: Request, services: Services, exc: AuthError, target: str) -> Response:
    """The attempt is over (expired, used, too many wrong codes, locked out): the sign-in
    page with the reason, its status and Retry-After; the challenge's cookie dropped."""
    response = signin_refused(request, exc, target)
    _clear_challenge(response, services)
    return response


def signed_in(
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
        pending_login(request, services, db, client)
    except InvalidMfaToken:
        return False
    return True


def wrong_code(
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
        return restart(request, services, InvalidMfaToken(TOO_MANY_CODES), target)
    return again(exc)
