"""The id of the request being served, passed to the auth server on every call.

The framework adapter (rozitech_auth.django.middleware.RequestIdMiddleware, or an app's own
code with `bound`) sets it; AuthServerClient sends it as X-Request-ID, so one request can be
followed from this service's log lines to the auth server's and its audit rows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is copied into log lines and sent on: nothing that could forge a log line
# (newlines, quotes) or grow without bound gets through; anything else is replaced.
_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

_current: ContextVar[str | None] = ContextVar("rozitech_request_id", default=None)


def accepted(presented: str | None) -> str:
    """The caller's id when it has a safe shape (8 to 128 of [A-Za-z0-9._:-]), else a new one."""
    if presented and _SHAPE.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(request_id: str) -> Iterator[str]:
    """`request_id` is the current one inside the block (restored after it)."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)
