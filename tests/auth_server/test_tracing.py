"""OpenTelemetry (the [otel] extra), recorded by the SDK's in-memory exporter: the client
library's call to the auth server, over real HTTP, and the server's request and database
spans in the same trace (the context travels in the traceparent header)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from auth_server import migrate, tracing
from auth_server.app import create_app
from auth_server.config import Settings
from tests.support.ports import free_port

sdk = pytest.importorskip(
    "opentelemetry.sdk.trace", reason="the [otel] extra is not installed (pip install .[otel])"
)
from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind  # noqa: E402
from rozitech_auth.client import AuthServerClient  # noqa: E402


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[str, InMemorySpanExporter, Any]]:
    """An auth server traced into an in-memory exporter, served by uvicorn on a free port in
    this process (so that its spans and the client's land in one exporter)."""
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    url = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    migrate.upgrade(url)
    settings = Settings(environment="test", data_dir=tmp_path, auth_database_url=url)
    app = create_app(settings)
    assert tracing.install(app, app.state.services.database.engine, settings, provider)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", exporter, provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.services.database.dispose()


def test_off_unless_configured(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path)
    app = create_app(settings)
    assert not tracing.install(app, app.state.services.database.engine, settings)


def test_client_call_server_request_and_query_share_one_trace(
    traced: tuple[str, InMemorySpanExporter, Any],
) -> None:
    base_url, exporter, provider = traced
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    client = AuthServerClient(base_url)
    try:
        assert client.fetch_discovery()["issuer"]
        with provider.get_tracer("test").start_as_current_span("saas-admin request"):
            health = client.health_check()
        assert health["status"] == "healthy"
    finally:
        instrumentor.uninstrument()
        client.close()

    spans = exporter.get_finished_spans()
    (outer,) = [s for s in spans if s.name == "saas-admin request"]
    trace = [s for s in spans if s.context.trace_id == outer.context.trace_id]
    (call,) = [
        s
        for s in trace
        if s.kind == SpanKind.CLIENT and s.parent and s.parent.span_id == outer.context.span_id
    ]
    (served,) = [s for s in trace if s.kind == SpanKind.SERVER]
    # The server's span continues the client's: the context crossed the wire.
    assert served.parent is not None and served.parent.span_id == call.context.span_id
    assert served.attributes is not None and served.attributes.get("http.route") == "/health"
    queries = [s for s in trace if s.attributes and s.attributes.get("db.system") == "sqlite"]
    assert queries, [s.name for s in trace]
    # Each database call is a child of the request that made it.
    served_ids = {s.context.span_id for s in trace if s.parent is not None}
    assert all(q.parent is not None and q.parent.span_id in served_ids for q in queries)
