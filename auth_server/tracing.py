"""OpenTelemetry tracing: optional (`pip install .[otel]`), off unless configured.

On when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard variable; OTEL_SERVICE_NAME and the
other OTEL_* variables are read by the SDK itself): a span per incoming request, with the
caller's trace context (W3C traceparent) as its parent, and a child span per database call.
Spans go to the OTLP/HTTP exporter in batches. Without the extra installed, a configured
endpoint only logs a warning: tracing must never stop the server from starting.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from auth_server.config import Settings

logger = logging.getLogger("auth_server.tracing")


def install(app: FastAPI, engine: Engine, settings: Settings, provider: Any = None) -> bool:
    """Instruments the app and the engine; `provider`: a TracerProvider of the caller's
    (tests: the SDK's in-memory exporter), else one exporting to the configured endpoint."""
    if provider is None and not settings.otel_exporter_otlp_endpoint:
        return False
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    except ImportError:
        logger.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the [otel] extra is missing")
        return False
    provider = provider or _exporting_provider()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/metrics")
    # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses unchanged
    # (tests/auth_server/test_tracing.py checks the database spans).
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=provider, skip_dep_check=True
    )
    return True


def _exporting_provider() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The endpoint and headers come from OTEL_EXPORTER_OTLP_* (read by the exporter).
    name = os.environ.get("OTEL_SERVICE_NAME") or "rozitech-auth-server"
    resource = Resource.create({"service.name": name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
