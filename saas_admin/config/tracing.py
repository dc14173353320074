"""OpenTelemetry tracing of the SaaS Admin: optional (the [otel] extra), off unless
OTEL_EXPORTER_OTLP_ENDPOINT is set. A span per incoming request (Django) and per call to
the auth server (requests, which the client library uses); the calls carry the W3C
traceparent header, so the auth server's spans join the same trace.

Installed by wsgi.py/asgi.py before the application is built: the Django instrumentation
adds its middleware to the settings' list.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def install() -> bool:
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the [otel] extra is missing")
        return False
    name = os.environ.get("OTEL_SERVICE_NAME") or "rozitech-saas-admin"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    # The endpoint and headers come from OTEL_EXPORTER_OTLP_* (read by the exporter).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls="metrics")
    RequestsInstrumentor().instrument(tracer_provider=provider)
    return True
