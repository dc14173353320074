"""Logging: timestamped lines (`serve`), every request at info except the feed's reads.

Every verifier in hybrid mode keeps reading GET /api/auth/revocations (a long poll, or a poll
each second); logged at info, those lines buried everything else (the `make run` output among
them). An answered read is logged at debug; a refused one (401, 429, 5xx) stays at info.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import uvicorn.config

FEED_PATH = "/api/auth/revocations"


class QuietFeedPolls(logging.Filter):
    """Lowers uvicorn's access line of a successful revocation-feed poll to debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client address, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) == 5:
            path, status = str(args[2]), args[4]
            if path.split("?", 1)[0] == FEED_PATH and isinstance(status, int) and status < 400:
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_feed_polls() -> None:
    """Puts the filter on uvicorn's access logger (once), however the app is served."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietFeedPolls) for f in logger.filters):
        logger.addFilter(QuietFeedPolls())


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, timestamped, for every worker."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # Every line carries its time: the logs of several replicas can then be merged.
    for formatter in config["formatters"].values():
        formatter["fmt"] = "%(asctime)s " + formatter["fmt"]
    # The application's own loggers (auth_server.*), in every worker process alike.
    config["formatters"]["app"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["handlers"]["app"] = {
        "formatter": "app",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["app"], "level": "INFO"}
    return config
