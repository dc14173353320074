"""The provider's pages (consent, error, sign out): rendered through the catalogues."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from auth_server.i18n import CATALOGUES



def N_(message: str) -> str:
    """Marks a text for extraction (`make messages`); translated where it is shown."""
    return message


# The scopes as a person reads them on the consent page (translated when rendered).
SCOPE_TEXTS = {
    "openid": N_("Know who you are (your account id)"),
    "profile": N_("See your name, organization and role"),
    "email": N_("See your e-mail address"),
    "offline_access": N_("Stay signed in when you are away"),
}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    form_targets: tuple[str, ...] = (),
    **context: Any,
) -> HTMLResponse:
    """The page in the browser's language, with a policy that lets it load only its own
    inline style and post its forms only to this server (and `form_targets`: a form whose
    answer redirects elsewhere needs that origin too, or the browser stops the redirect)."""
    locale = CATALOGUES.negotiate(request.headers.get("accept-language"))
    nonce = secrets.token_urlsafe(16)
    html = CATALOGUES.render(template, locale, style_nonce=nonce, **context)
    form_action = " ".join(["'self'", *form_targets])
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; form-action {form_action}; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            # A consent or sign-out page must never be framed (clickjacking) nor cached.
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        },
    )


def scope_texts(locale_request: Request, scope: str) -> list[str]:
    locale = CATALOGUES.negotiate(locale_request.headers.get("accept-language"))
    return [CATALOGUES.gettext(locale, SCOPE_TEXTS[s]) for s in scope.split() if s in SCOPE_TEXTS]
