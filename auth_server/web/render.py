"""Rendering a hosted page: the visitor's language, the CSRF token, and the headers every
page carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from auth_server.api.deps import get_locale
from auth_server.errors import AuthError
from auth_server.i18n import CATALOGUES, N_
from auth_server.web.csrf import csrf_token

# Our own stylesheet and images only, no script unless a page asks (the reset page's own
# file), no framing (clickjacking), no <base> tricks. No form-action: Chrome applies it to
# the redirects after a post, and sign-in goes on to OIDC clients on other origins.
_CSP = "style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
_HEADERS = {
    # Personal data and one-time tokens must not be kept by a browser or proxy cache.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def text(request: Request, message: str, **variables: Any) -> str:
    """One text in the visitor's language (a banner, an error outside a template)."""
    return CATALOGUES.gettext(get_locale(request), message, **variables)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    script: bool = False,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """`pages/<template>` in the visitor's language, with the form's CSRF token."""
    html = CATALOGUES.render(
        f"pages/{template}",
        get_locale(request),
        csrf_token=csrf_token(request),
        errors=dict(errors or {}),
        **context,
    )
    # A page's own script may also call this origin (passkeys.js asks for WebAuthn options).
    scripts = "script-src 'self'; connect-src 'self'; " if script else ""
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            **_HEADERS,
            "Content-Security-Policy": f"default-src 'none'; {scripts}{_CSP}",
            **(headers or {}),
        },
    )


def error_headers(exc: AuthError) -> dict[str, str]:
    """A refusal's Retry-After (rate limits, lockout), as the JSON API sends it."""
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


def error_text(request: Request, exc: AuthError) -> str:
    """The error's message, in the visitor's language when the catalogue has it."""
    return text(request, exc.message)


def refused(
    request: Request,
    template: str,
    exc: AuthError,
    *,
    script: bool = False,
    errors: Mapping[str, list[str]] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The form again with its refusal: a banner (role=alert) and, when the error names
    fields, each field's problems tied to it (`errors`: the page's own, when its field
    names differ from the error's); the refusal's status and Retry-After."""
    context.setdefault("notice", "")
    return render(
        request,
        template,
        status_code=exc.status_code,
        headers=error_headers(exc),
        script=script,
        errors=errors
        if errors is not None
        else {
            field: [text(request, problem) for problem in problems]
            for field, problems in (exc.errors or {}).items()
        },
        error=error_text(request, exc),
        **context,
    )


def error_page(request: Request, exc: AuthError, *, back: str = "/signin") -> HTMLResponse:
    """The error page of a refusal no form can show (a CSRF failure, for one)."""
    return render(
        request,
        "error.html",
        status_code=exc.status_code,
        headers=error_headers(exc),
        title=text(request, N_("Something went wrong")),
        message=error_text(request, exc),
        code=exc.code,
        back=back,
    )
