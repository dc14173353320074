"""Authlib's server components behind FastAPI: request and response conversion.

Authlib ships integrations for Flask and Django only. Its core wants an `OAuth2Request`
(method, URI, headers, the query and form parameters) and returns (status, body, headers);
this module makes the one from a Starlette request whose form has been read (Authlib is
synchronous, so the body is read first, in the event loop) and the other into a Starlette
response.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from auth_server.errors import RateLimited

# Every answer that carries a code, a token or an error about one: never cached (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Payload(OAuth2Payload):  # type: ignore[misc]
    """The request's parameters: the form of a POST, else the query string."""

    def __init__(self, params: QueryParams | FormData) -> None:
        self._params = params

    @property
    def data(self) -> dict[str, str]:
        # The first value of each parameter; repeated ones are refused through datalist.
        return {key: str(value) for key, value in self._params.items()}

    @property
    def datalist(self) -> defaultdict[str, list[Any]]:
        values: defaultdict[str, list[Any]] = defaultdict(list)
        for key, value in self._params.multi_items():
            values[key].append(value)
        return values


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, form: FormData | None, public_url: str) -> None:
        # The URI as the client sees it (AUTH_PUBLIC_URL): behind a TLS-terminating proxy
        # the socket's own URL would be http, which Authlib rightly refuses.
        uri = public_url.rstrip("/") + request.url.path
        if request.url.query:
            uri += "?" + request.url.query
        super().__init__(request.method, uri, headers=request.headers)
        self._query = request.query_params
        self._form = form if form is not None else FormData()
        self.payload = _Payload(self._form if request.method == "POST" else self._query)

    @property
    def args(self) -> QueryParams:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return {key: str(value) for key, value in self._form.items()}


async def read_oauth2_request(request: Request, public_url: str) -> StarletteOAuth2Request:
    form = await request.form() if request.method == "POST" else None
    return StarletteOAuth2Request(request, form, public_url)


def requested_client_id(request: StarletteOAuth2Request) -> str | None:
    """The client a token request names (HTTP Basic, else the form), before any check."""
    basic_id, _ = extract_basic_authorization(request.headers)
    return basic_id or request.payload.data.get("client_id") or None


def rate_limited_response(exc: RateLimited) -> Response:
    """429 in the OAuth error shape (RFC 6749 5.2), with Retry-After: what OAuth clients
    read. `temporarily_unavailable` is the registered OAuth error for an overloaded server."""
    body = {"error": "temporarily_unavailable", "error_description": exc.message}
    headers = [("Content-Type", "application/json")]
    if exc.retry_after is not None:
        headers.append(("Retry-After", str(exc.retry_after)))
    return to_response(429, body, headers)


def to_response(status: int, body: Any, headers: Sequence[tuple[str, str]]) -> Response:
    if isinstance(body, Mapping):
        body = json.dumps(body)
    response = Response(body, status_code=status, headers=dict(headers))
    response.headers.update(NO_STORE)
    return response
