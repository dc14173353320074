"""The sign-in page with a refusal: the answer of every sign-in that fails, by password,
by passkey, or at the second step (which then starts again)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from auth_server.errors import AuthError, EmailNotVerified
from auth_server.web.render import refused


def signin_refused(
    request: Request, exc: AuthError, target: str, *, force: bool = False, email: str = ""
) -> HTMLResponse:
    """The sign-in form again with the reason, its status and Retry-After; `target` is
    where it goes on once signed in."""
    return refused(
        request,
        "signin.html",
        exc,
        # static/passkeys.js: the passwordless sign-in.
        script=True,
        next=target,
        force=force,
        email=email,
        # The link to the verification code page.
        unverified=isinstance(exc, EmailNotVerified),
    )
