"""Logging: structlog over the standard library, one format for every line of the process.

LOG_FORMAT=json (production default) writes one JSON object per line, for a log shipper;
console (elsewhere) writes readable lines. Both carry the time, the level, the logger, and
the request's id and user when the line was written while serving a request, for the
application's lines and uvicorn's alike (they all pass through the standard library's
handlers, formatted by structlog's ProcessorFormatter).

uvicorn's own access log is off: the request-log middleware (api/request_log.py) writes the
one line per request, with the request id and user that uvicorn cannot know.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

from auth_server import request_context

LogFormat = Literal["json", "console"]
FEED_PATH = "/api/auth/revocations"

# Belt and braces: a field with one of these words in its name never reaches a log line,
# whatever a caller passes (the request line itself carries none of them).
_SECRET_WORDS = ("password", "token", "code", "secret", "authorization", "cookie")


def add_request(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """The request's id and user, on every line written while it is served."""
    context = request_context.current()
    if context is not None:
        event.setdefault("request_id", context.request_id)
        if context.user_id:
            event.setdefault("user_id", context.user_id)
    return event


def drop_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    for key in [k for k in event if any(word in k.lower() for word in _SECRET_WORDS)]:
        del event[key]
    return event


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    add_request,
    drop_secrets,
]


def formatter(log_format: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler: structlog's lines and the standard library's alike."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def configure_structlog() -> None:
    """structlog's loggers hand their events to the standard library (idempotent)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def log_config(log_format: LogFormat, level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration (applied in every worker): one handler on stderr."""
    handler = {"formatter": "structured", "class": "logging.StreamHandler"}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {"()": "auth_server.logs.formatter", "log_format": log_format}
        },
        "handlers": {"default": {**handler, "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
        },
        "root": {"handlers": ["default"], "level": level},
    }


def request_logger() -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger("auth_server.request")
    return logger


def is_quiet(path: str, status: int) -> bool:
    """A successful read of the revocation feed (logged at debug): every verifier keeps one
    open (a long poll, or a poll each second), so at info they would bury everything else
    (the `make run` output among them). A refused one (401, 429, 5xx) stays at info."""
    return path == FEED_PATH and status < 400
