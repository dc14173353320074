"""The contract's envelope for every answer, and the handlers that put errors in it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from auth_server.errors import AuthError

logger = logging.getLogger("auth_server.errors")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def success(data: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status_code)


def failure(
    status_code: int,
    code: str,
    message: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "code": code, "message": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _auth_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401:
        # RFC 6750: tell the client which scheme failed.
        headers["WWW-Authenticate"] = exc.challenge.replace("{code}", exc.code)
    return failure(exc.status_code, exc.code, exc.message, errors=exc.errors, headers=headers)


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """A request its declared checks refuse: the envelope's validation_error (web/routes.py
    answers the hosted pages' own with a page)."""
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return failure(400, "malformed_json", "The request body is not valid JSON")
    errors = field_errors(problems)
    return failure(400, "validation_error", "Some fields are invalid", errors=errors)


def field_errors(problems: Sequence[Any]) -> dict[str, list[str]]:
    """Pydantic's problems as the envelope's `errors`: messages by field (wire) name."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        # Only the message: pydantic's "input" would echo passwords back.
        errors.setdefault(_field_name(tuple(problem["loc"])), []).append(problem["msg"])
    return errors


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    return failure(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Logged in full on the server; the client sees nothing internal.
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return failure(500, "internal_error", "Something went wrong; please try again")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
