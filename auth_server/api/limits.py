"""ASGI middleware that refuses too many headers, oversized and non-JSON request bodies
before parsing."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Most header fields a request may carry (gunicorn's default); the server bounds their
# total size before the request reaches the application (see http_server.py).
MAX_HEADER_COUNT = 100
FORM = b"application/x-www-form-urlencoded"


class RequestBodyGuard:
    """431 for over MAX_HEADER_COUNT headers, 413 for bodies over the cap (declared or
    streamed), 415 for bodies that are not JSON (or, outside /api/, a urlencoded form)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["headers"]) > MAX_HEADER_COUNT:
            # Before any header is looked up: thousands of tiny ones cost every lookup.
            await _reject(
                send, 431, "request_header_fields_too_large", "The request has too many headers"
            )
            return
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _reject(send, 413, "payload_too_large", "The request body is too large")
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # The hosted pages (outside /api/) post HTML forms; the API takes JSON only.
        form = content_type == FORM and not scope["path"].startswith("/api/")
        if has_body and content_type != b"application/json" and not form:
            await _reject(send, 415, "unsupported_media_type", "Send the body as application/json")
            return
        await self.app(scope, self._capped(receive, send), send)

    def _capped(self, receive: Receive, send: Send) -> Receive:
        """Counts a streamed body; past the cap the request ends as 413."""
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI passes HTTPException through its body parsing to our handler.
                    raise HTTPException(413, "The request body is too large")
            return message

        return capped_receive


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"success": False, "code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
