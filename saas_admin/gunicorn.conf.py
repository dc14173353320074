"""gunicorn settings of the SaaS Admin's production server, read by `gunicorn` started in
this folder (the Procfile's `saas`). Command-line options override them.

The request head is bounded by gunicorn itself, not only by a proxy in front: a request
line over `limit_request_line` gets 414, more than `limit_request_fields` headers or one
over `limit_request_field_size` bytes get 431, before anything more is read. (These are
gunicorn's defaults, written down so that no one raises them to 0, "unlimited", unawares;
the auth server's limits are MAX_HEADER_BYTES and 100 fields, see auth_server/http_server.py.)
"""

import os
import tempfile
from typing import Any

limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# No control socket: every gunicorn on one host would use the same ~/.gunicorn/gunicorn.ctl,
# two replicas replacing (and on exit removing) each other's (the Procfile says it too).
control_socket_disable = True

# Metrics of several workers (GET /metrics): each process writes its values to one folder
# that a scrape of any worker adds up (prometheus_client's multiprocess mode). Set before
# the application is loaded; a fresh folder per start, so no earlier process counts. An
# operator's own PROMETHEUS_MULTIPROC_DIR is used as it is (theirs to empty at start).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="saas-admin-metrics-")


def child_exit(_server: Any, worker: Any) -> None:
    """A dead worker's live gauges (the breaker, the feed's staleness) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
