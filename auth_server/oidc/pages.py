"""What the provider's pages say about scopes (the pages are rendered by web/render.py)."""

from __future__ import annotations

from fastapi import Request

from auth_server.i18n import N_
from auth_server.web.render import text

# The scopes as a person reads them on the consent page.
SCOPE_TEXTS = {
    "openid": N_("Know who you are (your account id)"),
    "profile": N_("See your name, organization and role"),
    "email": N_("See your e-mail address"),
    "offline_access": N_("Stay signed in when you are away"),
}


def scope_texts(request: Request, scope: str) -> list[str]:
    return [text(request, SCOPE_TEXTS[s]) for s in scope.split() if s in SCOPE_TEXTS]
