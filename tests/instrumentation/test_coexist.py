"""Beside OpenTelemetry's zero-code agent or another instrumentor of the same app, each request
makes exactly one server span, and one line says which instrumentation was kept and how to keep
the other instead."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from instrumentation import instrument, uninstrument
from tests.conftest import free_port
from tests.instrumentation.apps import fastapi_app, flask_app
from tests.instrumentation.conftest import AsgiClient, WsgiClient
from tests.instrumentation.otlp_sink import OtlpSink

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _instrumented_by_contrib(framework: str, how: str, provider: TracerProvider) -> Any:
    if framework == "fastapi":
        app = fastapi_app(CollectorRegistry())
        if how == "instrumentor":
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

            FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
        else:
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
        return app
    app = flask_app(CollectorRegistry())
    if how == "instrumentor":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

        app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app, tracer_provider=provider)
    return app


@pytest.mark.parametrize("how", ["instrumentor", "middleware"])
@pytest.mark.parametrize("obs_traces", [True, False], ids=["obs kept", "other kept"])
def test_one_server_span_per_request_beside_another_instrumentation(framework: str, how: str, obs_traces: bool) -> None:
    pytest.importorskip(f"opentelemetry.instrumentation.{framework}")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = _instrumented_by_contrib(framework, how, provider)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    instrument(app, tracer_provider=provider, registry=CollectorRegistry(), traces=obs_traces, trace_clients=False,
               log_handler=handler, access_log=False, service_name="backend")  # fmt: skip
    client = AsgiClient(app) if framework == "fastapi" else WsgiClient(app)
    try:
        for n in range(3):
            assert client.get(f"/items/{n}", {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}).status == 200
        spans = exporter.get_finished_spans()
        server = [s for s in spans if s.kind is SpanKind.SERVER]
        assert len(server) == 3, [(s.name, s.kind, s.instrumentation_scope) for s in spans]
        if obs_traces:
            assert len(spans) == 3, "no internal send/receive spans either"
        scopes = {s.instrumentation_scope.name for s in server if s.instrumentation_scope}
        assert (scopes == {"obs.instrumentation"}) is obs_traces
        lines = [json.loads(x) for x in stream.getvalue().splitlines()]
        said = [x["message"] for x in lines if "both instrumented this app" in x["message"]]
        if obs_traces:
            assert len(said) == 1 and "OBS_TRACES=false" in said[0], said
        else:
            assert said == []
    finally:
        uninstrument(app)
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_under_the_zero_code_agent_each_request_is_one_server_span(tmp_path: Path, server: str) -> None:
    """``opentelemetry-instrument uvicorn ...``: the agent instruments the app with the contrib
    instrumentations before obs does; obs keeps one server span and says so once per worker."""
    from tests.instrumentation.test_server_logs import get, output, records
    from tests.instrumentation.test_server_logs import server as running
    from tests.instrumentation.test_servers import BIN

    agent = BIN / "opentelemetry-instrument"
    if not agent.exists():
        pytest.skip("opentelemetry-instrumentation's opentelemetry-instrument is not installed")
    port = free_port()
    if server == "uvicorn":
        cmd = [str(agent), str(BIN / "uvicorn"), "tests.instrumentation.apps:make_fastapi_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        route = "/items/{item_id}"
    else:
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text('logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"\n')
        cmd = [str(agent), str(BIN / "gunicorn"), "tests.instrumentation.apps:make_flask_app()", "-w", "1",
               "-b", f"127.0.0.1:{port}", "-c", str(conf)]  # fmt: skip
        route = "/items/<int:item_id>"
    with OtlpSink() as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.http_endpoint, "OTEL_SERVICE_NAME": "backend",
               "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "", "PATH": os.environ.get("PATH", "")}  # fmt: skip
        with running(cmd, port, tmp_path, env) as base:
            for n in range(3):
                assert get(f"{base}/items/{n}", {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}) == 200
            spans = sink.wait_for(lambda got: len([s for s in got if s.trace_id == TRACE_ID]) >= 3, timeout=20)
            time.sleep(1.5)  # anything more would arrive with the next batch
            spans = [s for s in sink.spans if s.trace_id == TRACE_ID]
    assert [s.name for s in spans] == [f"GET {route}"] * 3, [(s.name, s.kind) for s in spans]
    found = records(output(tmp_path)[1])
    said = [r["message"] for r in found if "both instrumented this app" in r.get("message", "")]
    assert len(said) == 1 and f"opentelemetry-instrumentation-{'fastapi' if server == 'uvicorn' else 'flask'}" in said[0]
