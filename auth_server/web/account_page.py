"""The account page (/account) as its sections' actions answer it: each action needs the
browser session, calls the JSON API's own use case, and answers with the page and its
refusal or goes back to /account with a notice (web/account.py, web/passkeys.py,
web/two_step.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from auth_server.errors import AuthError, InvalidMfaCode
from auth_server.i18n import N_
from auth_server.models import AuthSession
from auth_server.services import Services
from auth_server.web.render import error_text, refused, text
from auth_server.web.sso import BrowserSession, current_browser_session, signin_redirect

ACCOUNT = "/account"
# The page has two password fields: the use cases' field names mapped onto the page's (the
# two-step section's proof of web/two_step.py).
FIELDS = {"password": "mfaPassword", "code": "mfaCode"}


def _when(session: AuthSession, column: str) -> str:
    moment = getattr(session, column)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def account_context(
    request: Request,
    services: Services,
    db: Session,
    current: BrowserSession,
    *,
    profile: dict[str, str] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """What account.html shows of the signed-in user; `profile` as typed, when refused."""
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


def _refused(
    request: Request,
    services: Services,
    db: Session,
    current: BrowserSession,
    exc: AuthError,
    **context: Any,
) -> Response:
    """The account page with an action's refusal: a banner, and each problem on its field."""
    errors = {
        FIELDS.get(field, field): [text(request, problem) for problem in problems]
        for field, problems in (exc.errors or {}).items()
    }
    if isinstance(exc, InvalidMfaCode):
        # The page's one code field is the two-step section's.
        errors["mfaCode"] = [error_text(request, exc)]
    return refused(
        request,
        "account.html",
        exc,
        # static/passkeys.js: the passkeys section.
        script=True,
        errors=errors,
        **account_context(request, services, db, current, **context),
    )


def account_action(
    request: Request,
    services: Services,
    db: Session,
    act: Callable[[BrowserSession], object],
    notice: str = "",
    **context: Any,
) -> Response:
    """One action of the account page for this browser's session (none: the sign-in, back
    to /account). `act` calls the use case: a Response it returns is the answer (a page of
    its own); an AuthError gives the page with the refusal (`context`: the form as typed);
    else back to /account with `notice` (the notice's key, then the section's #anchor)."""
    current = current_browser_session(request, services, db)
    if current is None:
        return signin_redirect(ACCOUNT)
    try:
        answer = act(current)
    except AuthError as exc:
        return _refused(request, services, db, current, exc, **context)
    if isinstance(answer, Response):
        return answer
    return RedirectResponse(f"{ACCOUNT}?notice={notice}", status_code=303)
