"""RequestIdMiddleware: X-Request-ID accepted (when well-formed) or made, returned on the
response, and current while the request is served, so that every call this service makes
to the auth server carries it (rozitech_auth.request_id).

Put it first in MIDDLEWARE: every later middleware's log lines then carry the id too.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from rozitech_auth import request_id
from rozitech_auth.request_id import REQUEST_ID_HEADER


class RequestIdMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        current = request_id.accepted(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = current  # type: ignore[attr-defined]
        with request_id.bound(current):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = current
        return response
