"""One log line per request: method, path, status, duration, user (the auth server's user
id) and client address, carrying the request's id (RequestIdMiddleware runs before it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponseBase
from rozitech_auth.django.authentication import end_user


class RequestLog:
    """One line per request, after RequestIdMiddleware (which makes its id current)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.logger = structlog.get_logger("saas_admin.request")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        user_id = getattr(getattr(request, "user", None), "auth_user_id", None)
        address = end_user(request)
        fields = {"user_id": str(user_id)} if user_id else {}
        # The path only: a query string is not vetted for what a log must not hold.
        self.logger.log(
            logging.INFO,
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            client=address.ip_address if address else None,
            **fields,
        )
        return response
