"""Lean server spans: what the exporters receive is what the SDK's own span would have given them,
the sampling decisions are the SDK sampler's, and anything the fast path cannot honour (a processor
that acts at span start, a tracer that is not the SDK's) goes through ``Tracer.start_span``."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from exporters.span_batch import CountingBatchSpanProcessor
from instrumentation._internals import _RANDOM, CHECKED, SDK_1_40, LeanSpans
from instrumentation._span import ServerSpan, UnsampledSpan
from obs.contract import REDACTED
from tests.instrumentation.conftest import Service, ServiceFactory

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def shape(span: ReadableSpan) -> dict[str, Any]:
    """Everything an exporter reads from a span, minus ids and clocks."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "status": (span.status.status_code, span.status.description),
        "events": [(e.name, dict(e.attributes or {})) for e in span.events],
        "links": len(span.links),
        "parent": (span.parent.trace_id, span.parent.span_id, span.parent.is_remote) if span.parent else None,
        "trace_flags": span.context.trace_flags if span.context else None,
        "resource": dict(span.resource.attributes),
        "scope": (span.instrumentation_scope.name, span.instrumentation_scope.version)
        if span.instrumentation_scope
        else None,
        "dropped": (span.dropped_attributes, span.dropped_events, span.dropped_links),
        "ended": span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time,
    }


REQUESTS: list[tuple[str, dict[str, str] | None]] = [
    ("/items/42", None),
    ("/no/such/page", None),
    ("/boom", None),
    ("/items/7?token=abc", {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}),
    ("/api/users/dave@school.example", None),
]


def _without_stacktrace(s: dict[str, Any]) -> dict[str, Any]:
    # The stack trace names the frames that ran, which differ between the two paths by design.
    s["events"] = [(n, {k: v for k, v in a.items() if k != "exception.stacktrace"}) for n, a in s["events"]]
    return s


@pytest.mark.parametrize("path,headers", REQUESTS, ids=[p for p, _ in REQUESTS])
def test_the_exported_span_is_the_one_the_sdk_span_gives(
    make_service: ServiceFactory, framework: str, path: str, headers: dict[str, str] | None
) -> None:
    def hook(span: Any, _: Any) -> None:
        span.set_attribute("app.tenant", "school-1")
        span.set_attribute("http.response.status_code", 999)  # overwritten when the response is known

    lean = make_service(framework, server_request_hook=hook)
    sdk = make_service(framework, server_request_hook=hook)
    sdk.state.telemetry.lean_spans = None
    assert lean.state.telemetry.lean_spans is not None
    lean.get(path, headers)
    sdk.get(path, headers)
    (lean_span,) = lean.spans()
    (sdk_span,) = sdk.spans()
    # The SDK exports a copy; the lean span is itself the ReadableSpan, read-only once ended.
    assert isinstance(lean_span, ReadableSpan) and type(sdk_span) is ReadableSpan
    assert _without_stacktrace(shape(lean_span)) == _without_stacktrace(shape(sdk_span))
    if headers:
        assert format(lean_span.context.trace_id, "032x") == TRACE_ID


class ScriptedIds(IdGenerator):
    """Ids from a list, so the lean path and the SDK path can be given the same ones."""

    def __init__(self, trace_ids: list[int]) -> None:
        self._trace_ids = iter(trace_ids)
        self._span_ids = itertools.count(1)

    def generate_trace_id(self) -> int:
        return next(self._trace_ids)

    def generate_span_id(self) -> int:
        return next(self._span_ids)


def _parent_context(flags: int | None) -> Context | None:
    if flags is None:
        return None
    parent = SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), True, TraceFlags(flags))
    return trace.set_span_in_context(NonRecordingSpan(parent))


@pytest.mark.parametrize("ratio", [0.0, 0.001, 0.1, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("parent_flags", [None, 0x00, 0x01, 0x03])
def test_sampling_decisions_match_the_sdk_sampler(ratio: float, parent_flags: int | None) -> None:
    rng = random.Random(f"{ratio}-{parent_flags}")
    trace_ids = [rng.getrandbits(128) or 1 for _ in range(400)]
    sampler = ParentBased(TraceIdRatioBased(ratio))
    lean_provider = TracerProvider(sampler=sampler, id_generator=ScriptedIds(trace_ids))
    sdk_provider = TracerProvider(sampler=sampler, id_generator=ScriptedIds(trace_ids))
    starter = LeanSpans.for_tracer(lean_provider.get_tracer("t"))
    sdk_tracer = sdk_provider.get_tracer("t")
    assert starter is not None
    for _ in trace_ids:
        context = _parent_context(parent_flags)
        ours = starter.start("GET", context, {"url.path": "/"}, 1)
        theirs = sdk_tracer.start_span("GET", context=context, kind=SpanKind.SERVER, attributes={"url.path": "/"})
        assert ours is not None
        assert ours.get_span_context() == theirs.get_span_context()
        assert ours.is_recording() == theirs.is_recording()


@pytest.mark.parametrize("parent_flags", [None, 0x01])
def test_default_ids_are_the_draws_the_sdk_makes(parent_flags: int | None) -> None:
    """With the SDK's RandomIdGenerator the ids are drawn from ``random`` directly: same draws, same ids."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)))
    starter = LeanSpans.for_tracer(provider.get_tracer("t"))
    sdk_tracer = provider.get_tracer("t")
    assert starter is not None
    for seed in range(200):
        context = _parent_context(parent_flags)
        random.seed(seed)
        ours = starter.start("GET", context, {}, 1)
        random.seed(seed)
        theirs = sdk_tracer.start_span("GET", context=context, kind=SpanKind.SERVER)
        assert ours is not None
        assert ours.get_span_context() == theirs.get_span_context()
        assert type(ours) is (UnsampledSpan if type(theirs) is NonRecordingSpan else ServerSpan)


def test_span_contexts_are_built_as_the_api_builds_them() -> None:
    """The installed API's SpanContext has the layout the fast path builds directly: the
    comparison above then covers the directly built contexts, field by field."""
    assert CHECKED["fast_contexts"] is None, "opentelemetry-api's SpanContext changed shape: the fast path is off"
    provider = TracerProvider()
    starter = LeanSpans.for_tracer(provider.get_tracer("t"))
    assert starter is not None
    span = starter.start("GET", None, {}, 1)
    assert span is not None
    ctx = span.get_span_context()
    public = SpanContext(ctx.trace_id, ctx.span_id, False, ctx.trace_flags, None)
    assert ctx == public
    assert (ctx.is_valid, ctx.is_remote, ctx.trace_state) == (True, False, public.trace_state)
    assert isinstance(span, ServerSpan) and span.log_ids() == (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [(1, 1), (2**64 - 1, 2**64 - 1), (2**128 - 1, 2**63), (0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7)],
    ids=["smallest", "64-bit trace id", "largest", "leading zeros"],
)
def test_logged_ids_are_the_w3c_hex_of_the_span_ids(trace_id: int, span_id: int) -> None:
    """Logs and exemplars carry the ids as traceparent does: 32 and 16 lowercase hex digits,
    zero-padded (the hot path formats them printf-style, not with format())."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace.span import DEFAULT_TRACE_STATE

    from instrumentation._internals import _public_context
    from instrumentation._span import SpanShared, sampled_ids

    shared = SpanShared(SimpleSpanProcessor(InMemorySpanExporter()), Resource.create({}), None, None, SpanLimits(), _public_context)
    flags = TraceFlags(TraceFlags.SAMPLED)
    span = ServerSpan("GET", trace_id, span_id, flags, DEFAULT_TRACE_STATE, None, {}, 1, shared)
    expected = (format(trace_id, "032x"), format(span_id, "016x"))
    assert span.log_ids() == expected == sampled_ids(span.get_span_context())
    assert len(expected[0]) == 32 and len(expected[1]) == 16
    unsampled = ServerSpan("GET", trace_id, span_id, TraceFlags(0), DEFAULT_TRACE_STATE, None, {}, 1, shared)
    assert unsampled.log_ids() == (None, None) == sampled_ids(unsampled.get_span_context())


@pytest.mark.skipif(not SDK_1_40, reason="the SDK's own span metrics come with opentelemetry-sdk 1.40")
def test_the_sdks_own_span_metrics_count_lean_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    reader = InMemoryMetricReader()
    provider = TracerProvider(meter_provider=MeterProvider(metric_readers=[reader]))
    starter = LeanSpans.for_tracer(provider.get_tracer("t"))
    assert starter is not None
    spans = [starter.start("GET", None, {}, 1) for _ in range(3)]
    spans[0].end()  # type: ignore[union-attr]
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        m.name: sum(p.value for p in m.data.data_points)  # type: ignore[union-attr]
        for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }  # fmt: skip
    assert points["otel.sdk.span.started"] == 3
    assert points["otel.sdk.span.live"] == 2


def test_a_sampler_that_is_not_parent_based_ratio_is_asked_as_usual() -> None:
    class EveryOther(TraceIdRatioBased):
        def __init__(self) -> None:
            super().__init__(1.0)
            self.calls = 0

        def should_sample(self, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return (ALWAYS_ON if self.calls % 2 else TraceIdRatioBased(0.0)).should_sample(*args, **kwargs)

    sampler = EveryOther()
    starter = LeanSpans.for_tracer(TracerProvider(sampler=sampler).get_tracer("t"))
    assert starter is not None
    recording = [starter.start("GET", None, {}, 1).is_recording() for _ in range(6)]  # type: ignore[union-attr]
    assert recording == [True, False] * 3
    assert sampler.calls == 6


class StartRecorder(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[Any] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started.append(span)
        span.set_attribute("app.from_processor", "yes")


def test_a_processor_that_acts_at_span_start_gets_the_sdk_span(make_service: ServiceFactory, framework: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    service = make_service(framework, tracer_provider=provider)
    service.get("/items/1")
    recorder = StartRecorder()
    provider.add_span_processor(recorder)  # added while the app runs: noticed on the next request
    service.get("/items/2")
    assert len(recorder.started) == 1 and isinstance(recorder.started[0], SdkSpan)
    spans = exporter.get_finished_spans()
    assert [(s.attributes or {}).get("app.from_processor") for s in spans] == [None, "yes"]


def test_a_tracer_that_is_not_the_sdks_is_used_through_its_api() -> None:
    assert LeanSpans.for_tracer(trace.NoOpTracer()) is None


def _current_span_service(make_service: ServiceFactory, framework: str, **kwargs: Any) -> Service:
    def hook(span: Any, _: Any) -> None:
        assert isinstance(span, ServerSpan)
        span.set_attribute("user.email", "kid@school.example")  # a sensitive key: value replaced
        span.set_attribute("app.note", "mail kid@school.example now")  # personal data in a value
        span.set_attribute("app.tags", ["ok", "kid@school.example"])
        span.set_attribute("app.count", 3)
        span.set_attribute("", "invalid key: dropped")
        span.record_exception(ValueError("no seat for kid@school.example"))
        span.add_event("app.checkpoint", {"step": 1})

    return make_service(framework, server_request_hook=hook, **kwargs)


def test_attributes_and_events_added_by_application_code_are_validated_and_redacted(
    make_service: ServiceFactory, framework: str
) -> None:
    service = _current_span_service(make_service, framework)
    service.get("/items/1")
    (span,) = service.spans()
    attributes = dict(span.attributes or {})
    assert attributes["user.email"] == REDACTED
    assert attributes["app.note"] == f"mail {REDACTED} now"
    assert attributes["app.tags"] == ("ok", REDACTED)
    assert attributes["app.count"] == 3
    assert "" not in attributes
    exception, checkpoint = span.events
    assert exception.name == "exception" and checkpoint.name == "app.checkpoint"
    assert exception.attributes is not None
    assert exception.attributes["exception.message"] == f"no seat for {REDACTED}"
    assert "kid@school.example" not in str(exception.attributes["exception.stacktrace"])
    assert exception.attributes["exception.type"] == "ValueError"


def test_span_limits_of_the_provider_apply(make_service: ServiceFactory, framework: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=6, max_events=1))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    service = _current_span_service(make_service, framework, tracer_provider=provider)
    service.get("/items/1")
    (span,) = exporter.get_finished_spans()
    assert len(span.attributes or {}) == 6
    assert span.dropped_attributes > 0
    assert len(span.events) == 1 and span.dropped_events == 1


def _lean_starter(processor: SpanProcessor) -> tuple[TracerProvider, LeanSpans]:
    """A provider exporting through ``processor`` and the lean span starter of its tracer."""
    provider = TracerProvider()
    provider.add_span_processor(processor)
    starter = LeanSpans.for_tracer(provider.get_tracer("t"))
    assert starter is not None
    return provider, starter


def test_an_ended_span_ignores_further_changes() -> None:
    exporter = InMemorySpanExporter()
    _, starter = _lean_starter(SimpleSpanProcessor(exporter))
    span = starter.start("GET", None, {"url.path": "/"}, 1)
    assert isinstance(span, ServerSpan)
    span.set_status(trace.StatusCode.OK)
    span.set_status(trace.StatusCode.ERROR)  # OK is final, as in the SDK
    span.end(2)
    span.end(3)
    span.set_attribute("late", 1)
    span.set_response("GET /late", 500, "/late", "500")
    span.add_event("late")
    span.add_own_event("late", {})
    span.add_link(SpanContext(1, 2, False))
    span.update_name("late")
    (done,) = exporter.get_finished_spans()
    assert done.name == "GET" and done.end_time == 2
    assert done.status.status_code is trace.StatusCode.OK
    assert dict(done.attributes or {}) == {"url.path": "/"}
    assert (done.events, done.links) == ((), ())


@pytest.mark.skipif(not SDK_1_40, reason="tracers can be switched off from opentelemetry-sdk 1.40")
def test_a_tracer_disabled_after_the_first_span_gets_no_more_lean_spans() -> None:
    """The processors' check is cached; whether the tracer is enabled is read on every span."""
    from opentelemetry.sdk.trace import _TracerConfig

    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    starter = LeanSpans.for_tracer(tracer)
    assert starter is not None
    assert isinstance(starter.start("GET", None, {}, 1), ServerSpan)
    tracer._set_tracer_config(_TracerConfig(is_enabled=False))  # type: ignore[attr-defined]
    assert starter.start("GET", None, {}, 2) is None, "the SDK's start_span decides for a disabled tracer"
    tracer._set_tracer_config(_TracerConfig(is_enabled=True))  # type: ignore[attr-defined]
    assert isinstance(starter.start("GET", None, {}, 3), ServerSpan)


def _ended_span(starter: LeanSpans, path: str) -> ServerSpan:
    span = starter.start("GET", None, {"url.path": path}, 1)
    assert isinstance(span, ServerSpan)
    span.set_response("GET /items/{id}", 200, "/items/{id}", None)
    span.end(2)
    return span


def test_an_ended_span_waiting_in_a_batch_queue_holds_nothing_the_collector_scans() -> None:
    """A batch processor keeps ended spans for hundreds of requests: every container a span holds is
    one more object the garbage collector counts, promotes and scans meanwhile. Even its context
    (a tuple subclass holding a TraceState: tracked for good) is made only when asked for."""
    import gc

    exporter = InMemorySpanExporter()
    provider, starter = _batch_provider(exporter)
    first, second = _ended_span(starter, "/items/1"), _ended_span(starter, "/items/2")
    shared = {id(r) for r in gc.get_referents(second)}
    own = [r for r in gc.get_referents(first) if gc.is_tracked(r) and id(r) not in shared]
    assert own == [], own
    assert first.log_ids() != second.log_ids(), "the ids are the span's own, without a context"

    context = first.get_span_context()
    assert context == SpanContext(int(first.log_ids()[0] or "", 16), int(first.log_ids()[1] or "", 16), False,
                                  trace.TraceFlags(trace.TraceFlags.SAMPLED | _RANDOM))  # fmt: skip
    assert first.context is context and first.get_span_context() is context, "made once"
    assert provider.force_flush()
    assert [span.context for span in exporter.get_finished_spans()] == [context, second.get_span_context()]
    provider.shutdown()


def test_events_and_links_are_seen_while_recording_and_frozen_at_the_end() -> None:
    exporter = InMemorySpanExporter()
    _, starter = _lean_starter(SimpleSpanProcessor(exporter))
    span = starter.start("GET", None, {}, 1)
    assert isinstance(span, ServerSpan)
    assert (span.events, span.links) == ((), ())
    span.add_event("first", {"n": 1})
    span.add_link(SpanContext(1, 2, False), {"why": "batch"})
    assert [e.name for e in span.events] == ["first"] and len(span.links) == 1
    span.end(2)
    (done,) = exporter.get_finished_spans()
    assert isinstance(done.events, tuple) and isinstance(done.links, tuple)
    assert [e.name for e in done.events] == ["first"] and dict(done.events[0].attributes or {}) == {"n": 1}
    assert [link.context.span_id for link in done.links] == [2]
    assert (done.dropped_events, done.dropped_links) == (0, 0)


# --- ending into obs's own batch processor directly ------------------------------------------------


def _batch_provider(exporter: InMemorySpanExporter, **options: Any) -> tuple[TracerProvider, LeanSpans]:
    return _lean_starter(CountingBatchSpanProcessor(exporter, schedule_delay_millis=60_000, **options))


@pytest.fixture
def batch_on_end_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Spans that went through ``CountingBatchSpanProcessor.on_end``."""
    calls: list[Any] = []
    original = CountingBatchSpanProcessor.on_end

    def on_end(self: CountingBatchSpanProcessor, span: ReadableSpan) -> None:
        calls.append(span)
        original(self, span)

    monkeypatch.setattr(CountingBatchSpanProcessor, "on_end", on_end)
    return calls


def test_sampled_spans_go_straight_into_obs_batch_processor_and_export_as_through_on_end(
    batch_on_end_calls: list[Any],
) -> None:
    exporter = InMemorySpanExporter()
    provider, starter = _batch_provider(exporter)
    spans = [_ended_span(starter, f"/items/{n}") for n in range(3)]
    assert batch_on_end_calls == [], "the queue is reached without on_end"
    assert provider.force_flush()
    assert exporter.get_finished_spans() == tuple(spans)  # the spans themselves, in order
    provider.shutdown()


def test_a_full_batch_wakes_the_exporting_thread() -> None:
    exporter = InMemorySpanExporter()
    provider, starter = _batch_provider(exporter, max_export_batch_size=4)
    for n in range(4):
        _ended_span(starter, f"/items/{n}")
    deadline = time.monotonic() + 10  # the schedule delay is a minute: only the wake-up exports
    while len(exporter.get_finished_spans()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(exporter.get_finished_spans()) == 4
    provider.shutdown()


@pytest.mark.parametrize("case", ["unsampled", "second processor"])
def test_whatever_the_direct_path_does_not_cover_goes_through_on_end(
    case: str, batch_on_end_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider, starter = _batch_provider(exporter)
    if case == "second processor":
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        monkeypatch.setattr(starter, "_sampler", _RecordOnly())
        monkeypatch.setattr(starter, "_ratio_bound", None)
    span = _ended_span(starter, "/c")
    assert batch_on_end_calls[-1:] == [span], "on_end saw the span"
    if case == "second processor":
        assert exporter.get_finished_spans() == (span,)  # the simple processor got it at once
    provider.shutdown()
    if case == "unsampled":
        assert exporter.get_finished_spans() == ()


def test_the_sdks_batch_processor_gets_the_spans_through_on_end() -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = InMemorySpanExporter()
    provider, starter = _lean_starter(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    spans = [_ended_span(starter, f"/items/{n}") for n in range(3)]
    assert provider.force_flush()
    assert exporter.get_finished_spans() == tuple(spans)
    provider.shutdown()


class _RecordOnly:
    """A sampler that records without sampling: the span is not for the exporters."""

    def should_sample(self, *args: Any, **kwargs: Any) -> Any:
        from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

        return SamplingResult(Decision.RECORD_ONLY)

    def get_description(self) -> str:
        return "record only"
