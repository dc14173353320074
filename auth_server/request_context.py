"""The request being served: its id (X-Request-ID) and, once known, its user.

One mutable object per request in a ContextVar. The request-log middleware sets it; the
audit log fills in the user (whoever a request audits is its user); every log line and
audit row reads it. Mutable, because sync endpoints run in a worker thread on a *copy* of
the context: a value set there would never reach the middleware's request line, while a
field set on the shared object does.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller's id may look like: it is copied into every log line and audit row, so
# nothing that could forge a log line (newlines, quotes) or fill the disk gets through.
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


@dataclass
class RequestContext:
    request_id: str
    user_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("auth_request", default=None)


def accepted_request_id(presented: str | None) -> str:
    """The caller's id when it has a safe shape (8 to 128 of [A-Za-z0-9._:-]), else a new one."""
    if presented and _REQUEST_ID_SHAPE.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


def begin(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    context = RequestContext(request_id)
    return context, _current.set(context)


def end(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def note_user(user_id: uuid.UUID | str | None) -> None:
    """The request acts for this user (the request line names them)."""
    context = _current.get()
    if context is not None and user_id is not None and context.user_id is None:
        context.user_id = str(user_id)
