"""The one place where the library's errors become DRF `APIException`s.

`api_exception(error)` is used by the authentication classes; `exception_handler` (or a
project's own handler calling `api_exception`) does it for views that call the client.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from rozitech_auth.errors import (
    AuthError,
    AuthServerError,
    AuthServerRejected,
    AuthServerUnavailable,
    TokenError,
)


class ServiceUnavailable(exceptions.APIException):
    """503 with Retry-After (DRF's handler sends `wait` as it)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = AuthServerUnavailable.message
    default_code = AuthServerUnavailable.code

    def __init__(self, detail: str, code: str, retry_after: int) -> None:
        super().__init__(detail, code)
        self.wait = retry_after


class BadGateway(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = AuthServerError.message
    default_code = AuthServerError.code


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict"
    default_code = "conflict"


def api_exception(error: AuthError) -> exceptions.APIException:
    """The DRF exception that answers for `error` (same status, code and message)."""
    if isinstance(error, TokenError):
        return exceptions.AuthenticationFailed(error.message, error.code)
    if isinstance(error, AuthServerUnavailable):
        return ServiceUnavailable(error.message, error.code, error.retry_after)
    if isinstance(error, AuthServerRejected):
        return _rejection(error)
    return BadGateway(error.message, error.code)


def _rejection(error: AuthServerRejected) -> exceptions.APIException:
    message = error.server_message or None
    code = error.code or None
    if error.status == 400:
        if error.field_errors:
            return exceptions.ValidationError(error.field_errors, code)
        return exceptions.ValidationError(
            {api_settings.NON_FIELD_ERRORS_KEY: [message or "Invalid request"]}, code
        )
    if error.status == 401:
        return exceptions.AuthenticationFailed(message, code)
    if error.status == 403:
        return exceptions.PermissionDenied(message, code)
    if error.status == 404:
        return exceptions.NotFound(message, code)
    if error.status == 429:
        return exceptions.Throttled(wait=error.retry_after, detail=message)
    return Conflict(error.message, error.code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, the library's errors answered as their APIExceptions."""
    # Imported here: rest_framework.views reads DEFAULT_AUTHENTICATION_CLASSES, which may
    # name this adapter's authentication class (a circular import at module level).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, AuthError):
        exc = api_exception(exc)
    return drf_exception_handler(exc, context)
