"""Every request of a logged-in Django session is re-checked by the auth server."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from rozitech_auth.errors import AuthServerUnavailable

from accounts.sessions import TOKENS_KEY, SessionEnded, bound_tokens, current_user


class AuthServerSessionMiddleware:
    """After AuthenticationMiddleware: `request.user` of a session bound to the auth server
    is the auth server's current verdict (accounts.sessions); a refused session is logged
    out, so the admin site shows its login page and the API answers as to anyone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session:
            tokens = bound_tokens(request.session)
            if tokens is None:
                # A session not made by an auth-server login: only local accounts (no
                # auth_user_id, e.g. createsuperuser) may have one; any other is ended.
                if getattr(request.user, "auth_user_id", None) is not None:
                    logout(request)
            else:
                try:
                    request.user = current_user(request, tokens)
                except SessionEnded:
                    # Dropped first: the auth server has ended that session already.
                    request.session.pop(TOKENS_KEY, None)
                    logout(request)
                except AuthServerUnavailable as exc:
                    return unavailable(exc)
        return self.get_response(request)


def unavailable(exc: AuthServerUnavailable) -> JsonResponse:
    response = JsonResponse(
        {"success": False, "code": exc.code, "message": exc.message}, status=503
    )
    response["Retry-After"] = str(exc.retry_after)
    return response
