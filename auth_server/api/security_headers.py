"""Security headers on every answer of the auth server (ASGI middleware).

Defaults only: a page that needs its own policy (the reset page, the API docs) sets it and
keeps it; everything else is JSON and gets the strictest one.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# One year, as browsers' preload lists ask; subdomains are the domain owner's decision.
HSTS = "max-age=31536000"

DEFAULTS = {
    # Browsers must not guess a script or page out of a JSON answer.
    "X-Content-Type-Options": "nosniff",
    # Reset tokens and other URL parts never leak to another site through Referer.
    "Referrer-Policy": "no-referrer",
    # No page of this server may be framed (clickjacking on the reset page or the docs).
    "X-Frame-Options": "DENY",
    # JSON answers load nothing and may not be framed; pages set their own policy.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


class SecurityHeaders:
    """Adds the defaults to every response; `Cache-Control: no-store` to every /api/ answer
    (tokens, personal data) that sets none; HSTS when `hsts` (production, behind TLS)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Token answers (login, refresh, ...) must not be kept by a browser or proxy cache.
        no_store = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULTS.items():
                    headers.setdefault(name, value)
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    # Browsers then refuse plain HTTP to this host, so no token is sent
                    # in clear after a downgrade.
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
