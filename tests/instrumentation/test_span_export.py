"""Spans exported and spans lost are counted in the service's own metrics
(``obs_trace_spans_exported_total``, ``obs_trace_spans_dropped_total{reason}``), and a cause of
warnings (a collector down, a hostile ``baggage`` header) writes one line, not one per span or
per header entry."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

import instrumentation
from exporters.span_batch import CountingBatchSpanProcessor, SpanCounts
from instrumentation import instrument, uninstrument
from instrumentation.log_filters import RepeatedWarningFilter
from obs.contract import TRACE_SPAN_DROP_REASONS, TRACE_SPANS_DROPPED, TRACE_SPANS_EXPORTED
from tests.conftest import free_port
from tests.instrumentation.apps import fastapi_app, flask_app
from tests.instrumentation.conftest import AsgiClient, WsgiClient
from tests.instrumentation.otlp_sink import OtlpSink


class Exported:
    """A service instrumented from settings alone (obs builds the provider and its exporter)."""

    def __init__(self, framework: str, **settings: Any) -> None:
        self.registry = CollectorRegistry()
        self.app = fastapi_app(self.registry) if framework == "fastapi" else flask_app(self.registry)
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        self.state = instrument(
            self.app, registry=self.registry, trace_clients=False, log_handler=handler,
            service_name="backend", **settings,
        )  # fmt: skip
        self.client = AsgiClient(self.app) if framework == "fastapi" else WsgiClient(self.app)

    def exported(self) -> float:
        return self.registry.get_sample_value(TRACE_SPANS_EXPORTED.name) or 0.0

    def dropped(self, reason: str) -> float:
        return self.registry.get_sample_value(TRACE_SPANS_DROPPED.name, {"reason": reason}) or 0.0

    def lines(self) -> list[dict[str, Any]]:
        self.state.telemetry.flush_access_log()
        return [json.loads(x) for x in self.stream.getvalue().splitlines() if x.strip()]

    def close(self) -> None:
        uninstrument(self.app)
        if self.state.tracer_provider is not None:
            self.state.tracer_provider.shutdown()  # type: ignore[attr-defined]


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch, framework: str) -> Iterator[Any]:
    # The provider obs builds is not made global here: other tests own OpenTelemetry's globals.
    monkeypatch.setattr(instrumentation, "install_global", lambda provider: False)
    made: list[Exported] = []

    def make(**settings: Any) -> Exported:
        service = Exported(framework, **settings)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def test_spans_the_collector_received_are_counted_as_exported(exported: Any) -> None:
    with OtlpSink() as sink:
        service = exported(otlp_endpoint=sink.http_endpoint)
        for n in range(12):
            assert service.client.get(f"/items/{n}").status == 200
        assert service.state.telemetry.flush is not None
        service.state.telemetry.flush()
        sink.wait_for(lambda spans: len(spans) >= 12, timeout=15)
    assert service.exported() == 12.0
    assert [service.dropped(reason) for reason in TRACE_SPAN_DROP_REASONS] == [0.0, 0.0, 0.0]


def test_spans_lost_while_the_collector_is_down_are_counted_and_logged_once(
    exported: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "8")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    monkeypatch.setenv("OBS_OTLP_TIMEOUT", "0.3")
    service = exported(otlp_endpoint=f"http://127.0.0.1:{free_port()}")
    for n in range(60):
        assert service.client.get(f"/items/{n}").status == 200
    service.state.telemetry.flush(timeout=10)
    full, failed = service.dropped("queue_full"), service.dropped("export_failed")
    assert full > 0 and failed > 0
    assert full + failed + service.exported() == 60.0, "every span counted once"
    warnings = [x["message"] for x in service.lines() if x["log.logger"] == "obs.exporters.spans"]
    assert len([m for m in warnings if "(queue_full)" in m]) == 1, warnings
    assert len([m for m in warnings if "(export_failed)" in m]) == 1, warnings


def test_a_span_ended_after_shutdown_is_counted() -> None:
    class Sink(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    counts = SpanCounts()
    processor = CountingBatchSpanProcessor(Sink(), counts=counts)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    tracer.start_span("before").end()
    processor.shutdown()
    tracer.start_span("after").end()
    assert (counts.exported, counts.dropped) == (1, {"shutdown": 1})


def test_counts_made_before_the_counters_exist_are_carried_over() -> None:
    from prometheus_client import Counter

    registry = CollectorRegistry()
    counts = SpanCounts()
    counts.add_exported(5)
    counts.add_dropped("queue_full", 2, "test")
    exported_counter = Counter("x_exported", "x", registry=registry)
    dropped_counter = Counter("x_dropped", "x", ["reason"], registry=registry)
    counts.count_into(exported_counter, dropped_counter)
    counts.add_exported(1)
    assert registry.get_sample_value("x_exported_total") == 6.0
    assert registry.get_sample_value("x_dropped_total", {"reason": "queue_full"}) == 2.0


def test_a_hostile_baggage_header_writes_one_warning_not_one_per_entry(exported: Any) -> None:
    service = exported(traces=True)
    baggage = ",".join(f"bad entry {n}=v;x" for n in range(180))  # ~1.8 KB of malformed members
    assert len(baggage) > 1800
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "baggage": baggage}
    for _ in range(5):
        assert service.client.get("/items/1", headers).status == 200
    lines = service.lines()
    propagation = [x for x in lines if x["log.logger"].startswith("opentelemetry")]
    assert len(propagation) == 1, [x["message"] for x in propagation]
    assert len([x for x in lines if x["event.dataset"] == "access"]) == 5


def test_a_held_cause_says_how_many_it_held_when_it_speaks_again() -> None:
    now = [0.0]
    limiter = RepeatedWarningFilter(interval=60, clock=lambda: now[0])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(limiter)
    logger = logging.getLogger("opentelemetry.test.repeat")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(50):
            logger.warning("Invalid baggage entry: `%s`", f"k{n}")
        logger.warning("another cause")
        logger.info("info %s", "passes")
        now[0] = 61.0
        logger.warning("Invalid baggage entry: `%s`", "late")
        logging.getLogger("tests.app").addHandler(handler)
        for _ in range(3):
            logging.getLogger("tests.app").warning("the application's own warnings are never held")
    finally:
        logger.removeHandler(handler)
        logging.getLogger("tests.app").removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "Invalid baggage entry: `k0`",
        "another cause",
        "info passes",
        "Invalid baggage entry: `late` (49 more like this in the last 60 s)",
        *["the application's own warnings are never held"] * 3,
    ]


def test_the_repeat_filter_keeps_the_direct_access_line_path(exported: Any) -> None:
    from instrumentation.logs import direct_targets

    service = exported(traces=False)
    handler = service.state.log_handler
    assert handler is not None
    assert any(isinstance(f, RepeatedWarningFilter) for f in handler.filters)
    logger = logging.Logger("tests.direct.access")  # outside the hierarchy: this handler alone
    logger.addHandler(handler)
    try:
        assert direct_targets(logger) == [handler]
        handler.addFilter(logging.Filter("tests"))  # any other filter could observe the record
        assert direct_targets(logger) is None
    finally:
        logger.removeHandler(handler)
        handler.filters = [f for f in handler.filters if isinstance(f, RepeatedWarningFilter)]
