"""Logging of the SaaS Admin: structlog over the standard library (read by the settings).

LOG_FORMAT=json (production default) writes one JSON object per line, console (elsewhere)
readable lines; every line written while a request is served carries its X-Request-ID (the
one the auth server receives too, see rozitech_auth.request_id). The line per request is
config/request_log.py's.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog
from rozitech_auth import request_id

# Belt and braces: a field naming a secret never reaches a line, whoever logs it.
_SECRET_WORDS = ("password", "token", "code", "secret", "authorization", "cookie")


def _request_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    current = request_id.current()
    if current is not None:
        event.setdefault("request_id", current)
    return event


def _without_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    for key in [k for k in event if any(word in k.lower() for word in _SECRET_WORDS)]:
        del event[key]
    return event


PRE_CHAIN: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _request_id,
    _without_secrets,
]


def logging_settings(log_format: str, level: str = "info") -> dict[str, Any]:
    """Django's LOGGING: every logger through one structlog formatter on stderr."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": PRE_CHAIN,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
            }
        },
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # runserver's own line per request: RequestLog writes the one with the id.
            "django.server": {"level": "WARNING"},
        },
    }
