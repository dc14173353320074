"""One log line per request, and its id: X-Request-ID accepted (when well-formed) or made,
returned on the response, and bound to every log line and audit row of the request.

A pure ASGI middleware, outermost but for the security headers: it times the whole request,
sees the final status, and never buffers a body (the feed's long polls stream nothing, but
a BaseHTTPMiddleware would still hold a task per request).
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth_server import logs, request_context
from auth_server.api.deps import IPNetwork, client_ip
from auth_server.request_context import REQUEST_ID_HEADER


class RequestLog:
    def __init__(self, app: ASGIApp, trusted_proxies: list[IPNetwork]) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies
        self.logger = logs.request_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = Headers(scope=scope).get(REQUEST_ID_HEADER)
        context, token = request_context.begin(request_context.accepted_request_id(presented))
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = context.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            # The path only: a query string may carry what a log must not (the feed's
            # cursor is harmless, but nothing else is vetted).
            self.logger.log(
                logging.DEBUG if logs.is_quiet(path, status) else logging.INFO,
                "request",
                method=scope["method"],
                path=path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                client=client_ip(Request(scope), self.trusted_proxies),
            )
            request_context.end(token)
