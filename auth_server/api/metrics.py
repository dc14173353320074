"""GET /metrics (Prometheus text format) and the HTTP instrumentation behind it.

Open to METRICS_ALLOWED_NETWORKS (loopback by default: a Prometheus beside the server, or
one behind TRUSTED_PROXIES whose X-Forwarded-For names it), and to anyone presenting the
service credential (X-Service-Token); everyone else gets 401 like any service endpoint.
Metrics reveal traffic patterns and account activity, so they are not public.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

from auth_server.api.deps import ClientDep, ServicesDep, require_service, service_token_scheme
from auth_server.metrics import set_key_age

router = APIRouter()
METRICS_PATH = "/metrics"


def instrument(app: FastAPI) -> None:
    """Request count and latency histogram per route (its template), method and status."""
    instrumentator = Instrumentator(
        should_group_status_codes=False,
        # A scrape, and the feed's long polls (their duration is the wait they asked for).
        excluded_handlers=[METRICS_PATH, "/api/auth/revocations"],
    )
    instrumentator.add(http_metrics.requests(), http_metrics.latency())
    instrumentator.instrument(app)


def _may_scrape(
    services: ServicesDep,
    client: ClientDep,
    presented: Annotated[str | None, Depends(service_token_scheme)],
) -> None:
    try:
        address = ipaddress.ip_address(client.ip_address or "")
    except ValueError:
        address = None
    if address is not None and any(address in n for n in services.settings.metrics_networks):
        return
    # Anyone else: the service credential, with its limit on wrong guesses.
    require_service(services, client, presented)


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    # Several workers: the values every process wrote to the shared folder, added up.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@router.get(
    METRICS_PATH,
    summary="Prometheus metrics (METRICS_ALLOWED_NETWORKS, or the service credential)",
    tags=["meta"],
    response_class=PlainTextResponse,
    dependencies=[Depends(_may_scrape)],
)
def scrape(services: ServicesDep) -> Response:
    set_key_age(services.keys.signer_created, services.clock.now())
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)
