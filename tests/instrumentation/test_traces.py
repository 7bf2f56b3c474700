"""Traces: one server span per request, named by route template, stable HTTP semantic conventions,
W3C propagation in and out, resource identity, parent-based ratio sampling, privacy by default."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from instrumentation import resolve_settings
from instrumentation._tracing import build_resource, build_tracer_provider
from obs.contract import REDACTED
from tests.instrumentation.conftest import Service, ServiceFactory

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def test_one_server_span_per_request_named_by_method_and_route_template(service: Service) -> None:
    assert service.get("/items/42").status == 200
    spans = service.spans()
    assert len(spans) == 1, "no internal send/receive spans beside the server span"
    span = spans[0]
    assert span.kind is SpanKind.SERVER
    assert span.name == f"GET {service.item_template}"
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "url.path": "/items/42",
        "url.scheme": "http",
        "http.route": service.item_template,
        "http.response.status_code": 200,
    }


def test_routes_from_included_routers_and_blueprints_carry_their_prefix(service: Service) -> None:
    service.get("/api/users/7")
    expected = "/api/users/{user_id}" if service.framework == "fastapi" else "/api/users/<user_id>"
    assert service.spans()[0].name == f"GET {expected}"


def test_routes_of_a_mounted_sub_application_carry_the_mount_path(make_service: ServiceFactory) -> None:
    service = make_service("fastapi")
    assert service.get("/v1/things/9").status == 200
    span = service.spans()[0]
    assert span.name == "GET /v1/things/{thing_id}"
    assert span.attributes is not None and span.attributes["http.route"] == "/v1/things/{thing_id}"


def test_an_unmatched_request_is_named_by_its_method_alone_never_by_its_path(service: Service) -> None:
    assert service.get("/no/such/page/123").status == 404
    span = service.spans()[0]
    assert span.name == "GET"
    assert span.attributes is not None and "http.route" not in span.attributes


def test_an_incoming_traceparent_makes_the_server_span_its_child(service: Service) -> None:
    service.get("/items/1", {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    span = service.spans()[0]
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    assert span.parent.is_remote


def test_an_application_exception_is_a_500_and_an_error_span_with_a_redacted_message(service: Service) -> None:
    resp = service.get("/boom")
    assert resp.status == 500
    span = service.spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.message"] == f"failed for {REDACTED}"
    assert "alice@school.example" not in str(event.attributes["exception.stacktrace"])
    assert "alice@school.example" not in (span.status.description or "")


def test_fastapi_exceptions_still_propagate_to_the_server(make_service: ServiceFactory) -> None:
    resp = make_service("fastapi").get("/boom")
    assert isinstance(resp.raised, RuntimeError), "the server must still see the application's exception"


def test_query_strings_credentials_client_address_and_user_agent_are_not_recorded(service: Service) -> None:
    service.get(
        "/items/3?token=s3cret&email=carol@school.example",
        {"authorization": "Bearer abc.def", "cookie": "session=1", "user-agent": "Mozilla/5.0 (kid's tablet)"},
    )
    attributes = dict(service.spans()[0].attributes or {})
    text = repr(attributes)
    for secret in ("s3cret", "carol@school.example", "abc.def", "session=1", "Mozilla", "127.0.0.1"):
        assert secret not in text
    assert "url.query" not in attributes and "client.address" not in attributes
    assert "user_agent.original" not in attributes


def test_personal_data_in_the_path_is_redacted(service: Service) -> None:
    service.get("/api/users/dave@school.example")
    attributes = service.spans()[0].attributes or {}
    assert attributes["url.path"] == f"/api/users/{REDACTED}"


def test_server_request_and_response_hooks_see_the_span(make_service: ServiceFactory, framework: str) -> None:
    def on_request(span: Any, carrier: Any) -> None:
        span.set_attribute("app.tenant", "school-1")

    def on_response(span: Any, status: int) -> None:
        span.set_attribute("app.status_seen", status)

    service = make_service(framework, server_request_hook=on_request, response_hook=on_response)
    service.get("/items/5")
    attributes = service.spans()[0].attributes or {}
    assert attributes["app.tenant"] == "school-1"
    assert attributes["app.status_seen"] == 200


def test_the_resource_names_the_service_version_and_environment() -> None:
    settings = resolve_settings(service_name="backend", service_version="1.4.2", environment="prod", env={})
    attributes = build_resource(settings).attributes
    assert attributes["service.name"] == "backend"
    assert attributes["service.version"] == "1.4.2"
    assert attributes["deployment.environment"] == "prod"


@pytest.mark.parametrize(
    ("ratio", "parent_flags", "expected_sampled"),
    [
        (0.0, None, 0),
        (1.0, None, 20),
        (0.0, "01", 20),  # parent-based: a sampled parent wins over the ratio
        (1.0, "00", 0),  # and an unsampled parent too
    ],
)
def test_sampling_is_parent_based_ratio(
    make_service: ServiceFactory, framework: str, ratio: float, parent_flags: str | None, expected_sampled: int
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = build_tracer_provider(resolve_settings(sample_ratio=ratio, env={}), [SimpleSpanProcessor(exporter)])
    service = make_service(framework, tracer_provider=provider)
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-{parent_flags}"} if parent_flags else None
    for _ in range(20):
        assert service.get("/items/1", headers).status == 200
    assert len(exporter.get_finished_spans()) == expected_sampled


class _HeaderRecorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_outgoing_requests_calls_carry_the_traceparent_of_the_server_span(make_service: ServiceFactory, framework: str) -> None:
    pytest.importorskip("opentelemetry.instrumentation.requests")
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    downstream = ThreadingHTTPServer(("127.0.0.1", 0), _HeaderRecorder)
    thread = threading.Thread(target=downstream.serve_forever, daemon=True)
    thread.start()
    _HeaderRecorder.seen = []
    try:
        service = make_service(framework, tracer_provider=provider, trace_clients=True)
        url = f"http://127.0.0.1:{downstream.server_address[1]}/"
        resp = service.get(f"/call?url={url}")
        assert resp.status == 200, resp.body
    finally:
        RequestsInstrumentor().uninstrument()
        downstream.shutdown()
        downstream.server_close()
    (headers,) = _HeaderRecorder.seen
    server = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    client = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT)
    traceparent = {k.lower(): v for k, v in headers.items()}["traceparent"]
    assert traceparent.split("-")[1] == format(server.context.trace_id, "032x")
    assert client.parent is not None and client.parent.span_id == server.context.span_id


def _handler_trace_id(service: Service, headers: dict[str, str] | None = None) -> str:
    resp = service.get("/log", headers)
    assert resp.status == 200
    return str(json.loads(resp.body)["trace_id"])


def test_the_application_sees_the_server_span_as_the_current_span(service: Service) -> None:
    """The span is set in the context the handler runs in (set through the ContextVar directly)."""
    seen = _handler_trace_id(service)
    (span,) = service.server_spans()
    assert seen == format(span.context.trace_id, "032x")
    assert not trace.get_current_span().get_span_context().is_valid, "nothing left attached"


def test_an_unsampled_request_still_has_a_current_span_context_to_propagate(
    make_service: ServiceFactory, framework: str
) -> None:
    """A dropped request's context stays current, so outgoing calls carry its trace id, unsampled."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = build_tracer_provider(resolve_settings(sample_ratio=0.0, env={}), [SimpleSpanProcessor(InMemorySpanExporter())])
    service = make_service(framework, tracer_provider=provider)
    seen = _handler_trace_id(service)
    assert len(seen) == 32 and int(seen, 16) != 0
    assert service.spans() == []
    assert not trace.get_current_span().get_span_context().is_valid


def test_a_runtime_context_other_than_the_default_is_used_through_the_api(
    make_service: ServiceFactory, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OTEL_PYTHON_CONTEXT`` may install another runtime context: then attach/detach go through the API."""
    from opentelemetry import context as otel_context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    calls: list[str] = []

    class Recording(ContextVarsRuntimeContext):
        def attach(self, context: Any) -> Any:
            calls.append("attach")
            return super().attach(context)

        def detach(self, token: Any) -> None:
            calls.append("detach")
            super().detach(token)

    monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", Recording())
    service = make_service(framework)
    seen = _handler_trace_id(service, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    assert seen == TRACE_ID
    assert calls[:1] == ["attach"] and calls[-1:] == ["detach"]
    assert calls.count("attach") == calls.count("detach")
    assert len(service.server_spans()) == 1
