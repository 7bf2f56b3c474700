"""It never hurts the application: internal errors are counted, not raised; hostile input neither
fails nor grows the number of series; a dead OTLP endpoint leaves requests alone."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from exporters.otlp import build_span_exporter, build_span_processor
from instrumentation._metrics import HttpMetrics
from obs.contract import INSTRUMENTATION_ERRORS
from tests.conftest import free_port
from tests.instrumentation.conftest import Service, ServiceFactory


def errors(service: Service, stage: str) -> float:
    return service.sample(INSTRUMENTATION_ERRORS.name, {"stage": stage}) or 0.0


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + "x" * 10_000,
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(service: Service, traceparent: str) -> None:
    assert service.get("/items/1", {"traceparent": traceparent}).status == 200
    span = service.spans()[0]
    assert span.parent is None
    assert errors(service, "request") == 0


def test_oversized_headers_and_paths_are_bounded(service: Service) -> None:
    from instrumentation._core import MAX_PATH

    resp = service.get("/items/1", {"x-big": "a" * 65536, "tracestate": "k=" + "v" * 65536})
    assert resp.status == 200
    long_path = "/nope/" + "a" * 100_000
    assert service.get(long_path).status == 404
    attributes = service.spans()[-1].attributes or {}
    assert len(str(attributes["url.path"])) <= MAX_PATH
    assert errors(service, "request") + errors(service, "response") == 0


def test_non_utf8_paths_are_recorded_as_valid_text(service: Service) -> None:
    assert service.get(b"/caf%FF%FE/\xff\xfe").status == 404
    path = str((service.spans()[0].attributes or {})["url.path"])
    path.encode("utf-8")  # would raise on lone surrogates
    line = next(x for x in service.log_lines() if x["event.dataset"] == "access")
    assert line["http.route"] == "__unmatched__"


def test_forged_host_headers_add_no_series(service: Service) -> None:
    service.get("/items/1", {"host": "a.example"})
    before = service.series_count()
    for n in range(100):
        service.get("/items/1", {"host": f"evil{n}.example", "x-forwarded-host": f"x{n}.example"})
    assert service.series_count() == before
    assert "evil" not in service.exposition()


def test_a_hundred_thousand_distinct_unmatched_urls_add_no_series(make_service: ServiceFactory, framework: str) -> None:
    # Metrics only (the series are what is at stake) keeps the loop within the time budget.
    service = make_service(framework, traces=False, access_log=False)
    service.get("/never/0")
    before = service.series_count()
    # This process's CPU time, not the wall clock: another job on the machine must not fail the
    # test (wall time doubled while callgrind ran beside the suite); a path that grows per URL would.
    started = time.process_time()
    for n in range(100_000):
        service.client.request("GET", f"/scan/{n}/x{n}.php")
    elapsed = time.process_time() - started
    assert service.series_count() == before
    assert elapsed < 60, f"100k requests took {elapsed:.1f}s of CPU"


def test_a_failing_hook_is_counted_and_the_request_goes_on(make_service: ServiceFactory, framework: str) -> None:
    def broken(span: Any, *args: Any) -> None:
        raise KeyError("hook bug")

    service = make_service(framework, server_request_hook=broken, response_hook=broken)
    assert service.get("/items/1").status == 200
    assert errors(service, "hook") == 2
    assert len(service.spans()) == 1


def test_an_internal_error_is_counted_not_raised(
    make_service: ServiceFactory, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_service(framework)

    def explode(self: HttpMetrics, *args: Any) -> Any:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(HttpMetrics, "duration_child", explode)
    assert service.get("/items/1").status == 200
    assert errors(service, "response") == 1
    monkeypatch.setattr(HttpMetrics, "active_child", explode)
    assert service.get("/items/2").status == 200
    assert errors(service, "request") == 1
    assert not trace.get_current_span().get_span_context().is_valid, "no context left attached"


def test_a_broken_access_log_handler_is_counted(make_service: ServiceFactory, framework: str) -> None:
    import logging

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise OSError("disk full")

        def handleError(self, record: logging.LogRecord) -> None:
            raise OSError("disk full")  # a handler that does not swallow its own errors

    service = make_service(framework, log_handler=Broken())
    assert service.get("/items/1").status == 200
    assert errors(service, "access_log") == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_unreachable_otlp_endpoint_leaves_requests_alone_and_the_queue_bounded(
    make_service: ServiceFactory, framework: str, protocol: Any
) -> None:
    exporter = build_span_exporter(f"http://127.0.0.1:{free_port()}", protocol, timeout=0.5)
    processor = build_span_processor(exporter, max_queue_size=64, schedule_delay_millis=50, export_timeout_millis=500)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    service = make_service(framework, tracer_provider=provider)
    started = time.monotonic()
    for n in range(300):
        assert service.get(f"/items/{n}").status == 200
    per_request = (time.monotonic() - started) / 300
    assert per_request < 0.05, f"{per_request * 1000:.1f} ms per request with the endpoint down"
    queue = getattr(getattr(processor, "_batch_processor", processor), "_queue", None)
    if queue is not None:
        assert len(queue) <= 64
