"""CSRF protection of every form of the hosted pages: a double-submitted token.

The browser holds a random token in an HttpOnly cookie (CSRF_COOKIE); every form carries
the same value in a hidden `csrf_token` field, and a post is accepted only when the two
match (compared in constant time). Another site can make a browser send the cookie, but it
can neither read it nor the page's field, so it cannot forge the field. The cookie is
SameSite=Lax and `Sec-Fetch-Site: cross-site` posts are refused outright, a second wall
for browsers that send that header. The cookie is independent of the sign-in, so the
sign-in form itself is protected (login CSRF).

(Rejected: a token signed with a server secret would need one more secret shared by every
replica; the double-submitted random value needs none and gives the same guarantee here.)
"""

from __future__ import annotations

import re
import secrets
from hmac import compare_digest
from typing import Annotated

from fastapi import Depends, Form, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth_server.errors import CsrfFailed

CSRF_COOKIE = "rz_csrf"
CSRF_FIELD = "csrf_token"
_FORMAT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)
_NEW = "csrf_new_token"


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden `csrf_token` field. A browser without the
    cookie gets a new one, set on the response by CsrfCookie."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if _FORMAT.match(current):
        return current
    new: str | None = getattr(request.state, _NEW, None)
    if new is None:
        new = secrets.token_urlsafe(32)
        setattr(request.state, _NEW, new)
    return new


def require_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """FastAPI dependency of every form post: CsrfFailed (403 page) unless the posted
    `csrf_token` matches this browser's cookie."""
    # A browser that says the post comes from another site is refused whatever it carries.
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfFailed()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    # Constant time: the comparison must not tell how much of the token was right.
    if not (_FORMAT.match(cookie) and compare_digest(cookie.encode(), csrf_token.encode())):
        raise CsrfFailed()


CsrfDep = Depends(require_csrf)


class CsrfCookie:
    """ASGI middleware: sets the cookie of a token that csrf_token() made for this request."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Request.state lives in the scope: the route's csrf_token() wrote it there.
                new = scope.get("state", {}).get(_NEW)
                if new:
                    # HttpOnly: no script reads it; the page carries the value in its form.
                    cookie = f"{CSRF_COOKIE}={new}; Path=/; HttpOnly; SameSite=Lax"
                    MutableHeaders(scope=message).append(
                        "set-cookie", cookie + ("; Secure" if self.secure else "")
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
