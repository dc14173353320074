"""The SaaS Admin's API conventions: the error envelope, pagination, JSON 404/500."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler
from rozitech_auth.django.exceptions import api_exception
from rozitech_auth.errors import AuthError

from billing.services import BillingError

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE: the auth server's code for the same refusal.
PAYLOAD_TOO_LARGE = {
    "success": False,
    "code": "payload_too_large",
    "message": "The request body is too large",
}


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with nesting deeper than Python's recursion limit (`[` x 10000) a
    400 like any other malformed body instead of a RecursionError (500)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as {success: false, code, message, errors?}; None leaves a 500."""
    if isinstance(exc, BillingError):
        return Response(
            {"success": False, "code": exc.code, "message": exc.message}, status=exc.status_code
        )
    # Django's own refusals of a body (DATA_UPLOAD_MAX_*), otherwise an HTML 400.
    if isinstance(exc, RequestDataTooBig):
        return Response(PAYLOAD_TOO_LARGE, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return _error(status.HTTP_400_BAD_REQUEST, "too_many_fields", "Too many fields in the body")
    if isinstance(exc, AuthError):
        # The client library's errors, as the library's DRF adapter answers them.
        exc = api_exception(exc)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    body: dict[str, Any] = {"success": False, "code": _code(exc), "message": _message(exc)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = {k: v for k, v in exc.detail.items() if k != api_settings.NON_FIELD_ERRORS_KEY}
        if fields:
            body["errors"] = {k: [str(m) for m in _as_list(v)] for k, v in fields.items()}
    response.data = body
    return response


def _error(status_code: int, code: str, message: str) -> Response:
    return Response({"success": False, "code": code, "message": message}, status=status_code)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _code(exc: exceptions.APIException) -> str:
    # The auth server's codes for the same answers: clients handle one, not two.
    if isinstance(exc, exceptions.Throttled):
        return "rate_limited"
    if isinstance(exc, exceptions.ParseError):
        return "malformed_json"
    if isinstance(exc, exceptions.ValidationError):
        codes: Any = exc.get_codes()
        non_field = (
            codes.get(api_settings.NON_FIELD_ERRORS_KEY) if isinstance(codes, dict) else None
        )
        # A single code from the auth server (e.g. invalid_code) is more useful than ours.
        if isinstance(non_field, list) and len(non_field) == 1 and non_field[0] != "invalid":
            return str(non_field[0])
        return "validation_error"
    code = exc.get_codes()
    return code if isinstance(code, str) else str(exc.default_code)


def _message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(detail, dict):
            non_field = detail.get(api_settings.NON_FIELD_ERRORS_KEY)
            if non_field:
                return str(_as_list(non_field)[0])
        return "Some fields are invalid"
    return str(detail)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None
        return Response(
            {
                "success": True,
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["success"] = {"type": "boolean"}
        return paginated


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400s outside DRF (a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413), enveloped."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(PAYLOAD_TOO_LARGE, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return JsonResponse(
        {"success": False, "code": "bad_request", "message": "Bad request"},
        status=status.HTTP_400_BAD_REQUEST,
    )


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"success": False, "code": "not_found", "message": "Not found"},
        status=status.HTTP_404_NOT_FOUND,
    )


def json_server_error(request: HttpRequest) -> JsonResponse:
    # Logged by Django; the client sees nothing internal.
    return JsonResponse(
        {"success": False, "code": "internal_error", "message": "Something went wrong"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
