"""The one door to other packages' private names: every one the instrumentation reads is here.

A fast path that reads a private name of opentelemetry-sdk, prometheus_client, Flask or FastAPI
lives in this module, is listed in ``INTERNALS`` and belongs to a *feature*. Each feature is
checked once, at import (``check``): its private names must exist and its fast path must give
what the public path gives on scratch objects. A feature that fails falls back to the public path
(spans through ``Tracer.start_span``, ``Histogram.observe``, ...): requests are never served
uninstrumented. Why it fell back is logged once, by ``instrument()`` (``report``), once logging
is set up. The public fallback is what a newer package with renamed internals gets; the tests
rename each private name in turn (``NAMES``) and check that spans, metrics and logs still flow.
"""

from __future__ import annotations

import logging
import random
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState
from opentelemetry.util import types
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.samples import Exemplar
from prometheus_client.values import MutexValue

from exporters.span_batch import CountingBatchSpanProcessor

from ._span import ServerSpan, SpanShared, UnsampledSpan

_log = logging.getLogger("obs.instrumentation")


@dataclass(frozen=True, slots=True)
class Internal:
    """One private name (``name``, or a scope key), where it is (``owner``), what reads it
    (``feature``); ``optional``: its absence leaves the feature on (nothing for it to serve)."""

    key: str
    name: str
    owner: str
    feature: str
    optional: bool = False


#: Every private name read, by key.
INTERNALS: tuple[Internal, ...] = (
    Internal("span_limits", "_span_limits", "opentelemetry.sdk.trace.Tracer", "lean_spans"),
    Internal("instrumentation_scope", "_instrumentation_scope", "opentelemetry.sdk.trace.Tracer", "lean_spans"),
    Internal("is_enabled", "_is_enabled", "opentelemetry.sdk.trace.Tracer", "lean_spans"),
    Internal("tracer_metrics", "_tracer_metrics", "opentelemetry.sdk.trace.Tracer", "lean_spans", optional=True),
    Internal("span_processors", "_span_processors", "opentelemetry.sdk.trace.SynchronousMultiSpanProcessor", "lean_spans"),
    Internal("on_ending", "_on_ending", "opentelemetry.sdk.trace.SpanProcessor", "lean_spans"),
    Internal("root", "_root", "opentelemetry.sdk.trace.sampling.ParentBased", "lean_spans"),
    Internal("remote_parent_sampled", "_remote_parent_sampled", "opentelemetry.sdk.trace.sampling.ParentBased", "lean_spans"),
    Internal("remote_parent_not_sampled", "_remote_parent_not_sampled", "opentelemetry.sdk.trace.sampling.ParentBased", "lean_spans"),
    Internal("local_parent_sampled", "_local_parent_sampled", "opentelemetry.sdk.trace.sampling.ParentBased", "lean_spans"),
    Internal("local_parent_not_sampled", "_local_parent_not_sampled", "opentelemetry.sdk.trace.sampling.ParentBased", "lean_spans"),
    Internal("non_recording_context", "_context", "opentelemetry.trace.NonRecordingSpan", "unsampled_spans"),
    Internal("span_context_layout", "__new__", "opentelemetry.trace.SpanContext (tuple layout)", "fast_contexts"),
    Internal("histogram_bounds", "_upper_bounds", "prometheus_client.Histogram", "fast_histogram"),
    Internal("histogram_buckets", "_buckets", "prometheus_client.Histogram", "fast_histogram"),
    Internal("histogram_sum", "_sum", "prometheus_client.Histogram", "fast_histogram"),
    Internal("counter_value", "_value", "prometheus_client.Counter", "fast_histogram"),
    Internal("value_lock", "_lock", "prometheus_client.values.MutexValue", "fast_histogram"),
    Internal("value_value", "_value", "prometheus_client.values.MutexValue", "fast_histogram"),
    Internal("value_exemplar", "_exemplar", "prometheus_client.values.MutexValue", "fast_histogram"),
    Internal("flask_request_context", "_cv_request", "flask.globals", "flask_request_context"),
    Internal("fastapi_telemetry", "_telemetry", "fastapi.FastAPI", "fastapi_native_telemetry"),
    Internal("fastapi_effective_route", "effective_route_context", "fastapi.routing (scope keys)", "fastapi_effective_route"),
    Internal("contrib_instrumented", "_is_instrumented_by_opentelemetry", "opentelemetry-instrumentation-fastapi/-flask (app attribute)", "other_instrumentation"),
)


#: The name each key looks up (``private``); the tests rename one at a time to check its fallback.
NAMES: dict[str, str] = {internal.key: internal.name for internal in INTERNALS}

#: What each feature buys, and what runs without it.
FEATURES: dict[str, str] = {
    "lean_spans": "server spans without the SDK span's machinery; without it Tracer.start_span (same spans, slower)",
    "unsampled_spans": "a dropped request's span made without a Python constructor call; without it NonRecordingSpan(...)",
    "fast_contexts": "span contexts made as the tuple SpanContext builds; without it SpanContext(...)",
    "fast_histogram": "the duration histogram and request counter updated under their values' locks; without it Histogram.observe() and Counter.inc()",
    "flask_request_context": "Flask's route read when the response starts; without it a before_request function",
    "fastapi_native_telemetry": "FastAPI's own telemetry switched off for the app; without it two server spans may be made",
    "fastapi_effective_route": "the full template of a route in a lazily included router; without it the routes are matched again",
    "other_instrumentation": "an app the contrib FastAPI/Flask instrumentation instrumented is found; without it, only by its middleware",
}


def private(obj: Any, key: str) -> Any:
    """``obj``'s private attribute named by ``NAMES[key]`` (AttributeError when it is missing)."""
    return getattr(obj, NAMES[key])


# --- span contexts and unsampled spans --------------------------------------------------------

_new_tuple = tuple.__new__
_new_object = object.__new__
_SAMPLED = TraceFlags.SAMPLED
#: W3C Trace Context level 2's random-trace-id flag (opentelemetry-api >= 1.35; 0 before it).
_RANDOM: int = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
#: The four flag combinations a server span can get, made once (index: the flags' int value).
_TRACE_FLAGS = tuple(TraceFlags(flags) for flags in range((_SAMPLED | _RANDOM) + 1))


def _public_context(trace_id: int, span_id: int, flags: TraceFlags, state: TraceState) -> SpanContext:
    return SpanContext(trace_id, span_id, False, flags, state)


def _tuple_context(trace_id: int, span_id: int, flags: TraceFlags, state: TraceState) -> SpanContext:
    # SpanContext.__new__ checks the ids' ranges and builds this tuple; ids drawn by the default
    # generator are valid by construction.
    context: SpanContext = _new_tuple(SpanContext, (trace_id, span_id, False, flags, state, True))
    return context


def _unsampled_public(context: SpanContext) -> UnsampledSpan:
    return UnsampledSpan(context)


def _unsampled_fast(context: SpanContext) -> UnsampledSpan:
    # NonRecordingSpan.__init__ only stores the context.
    span: UnsampledSpan = _new_object(UnsampledSpan)
    setattr(span, _UNSAMPLED_FIELD[0], context)
    return span


_UNSAMPLED_FIELD = [NAMES["non_recording_context"]]


# --- lean server spans ------------------------------------------------------------------------

_SERVER = SpanKind.SERVER
_NO_PARENT = trace.INVALID_SPAN_CONTEXT
_RECORD_AND_SAMPLE = Decision.RECORD_AND_SAMPLE
_DROP = Decision.DROP
_TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT


def _inert(processor: SpanProcessor) -> bool:
    """Whether ``processor`` does nothing when a span starts or is ending (the SDK's exporting
    processors and obs's own): then a lean span, which calls neither hook, is seen alike. The
    "ending" hook exists from opentelemetry-sdk 1.40 on."""
    kind = type(processor)
    if kind.on_start not in _INERT_ON_START:
        return False
    if not SDK_1_40:
        return True
    name = NAMES["on_ending"]
    inert = {getattr(SpanProcessor, name), getattr(SimpleSpanProcessor, name), getattr(BatchSpanProcessor, name)}
    return getattr(kind, name) in inert


_INERT_ON_START = {SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start}


def _always() -> bool:
    return True


def _sdk_version() -> tuple[int, ...]:
    from importlib.metadata import version

    try:
        return tuple(int(part) for part in version("opentelemetry-sdk").split(".")[:2])
    except (ValueError, LookupError):
        return (0,)


#: opentelemetry-sdk >= 1.40: tracers can be switched off (``Tracer._is_enabled``) and processors
#: have a hook when a span is ending (``SpanProcessor._on_ending``); both are then read, and
#: required. Older releases have neither.
SDK_1_40 = _sdk_version() >= (1, 40)


def parent_based_ratio_bound(sampler: Any) -> int | None:
    """The ratio sampler's bound when ``sampler`` is ParentBased(TraceIdRatioBased) with default
    delegates (decided inline with the SDK's arithmetic); None: asked through ``should_sample``."""
    if type(sampler) is not ParentBased:
        return None
    root = private(sampler, "root")
    defaults = (
        private(sampler, "remote_parent_sampled") is ALWAYS_ON
        and private(sampler, "remote_parent_not_sampled") is ALWAYS_OFF
        and private(sampler, "local_parent_sampled") is ALWAYS_ON
        and private(sampler, "local_parent_not_sampled") is ALWAYS_OFF
    )
    if type(root) is not TraceIdRatioBased or not defaults:
        return None
    return int(root.bound)


class LeanSpans:
    """Starts ``ServerSpan``s for one SDK tracer as ``Tracer.start_span`` would (same sampling, ids
    and context); ``start`` returns None when the SDK path must be used: a tracer switched off, or a
    processor that acts when a span starts (noticed on the next request after it is added)."""

    def __init__(self, tracer: SdkTracer) -> None:
        self._tracer = tracer
        self._processor = tracer.span_processor
        if not isinstance(self._processor, SynchronousMultiSpanProcessor):
            raise AttributeError("the tracer's span processor is not the SDK's SynchronousMultiSpanProcessor")
        self._processors_name = NAMES["span_processors"]
        getattr(self._processor, self._processors_name)  # present, or AttributeError
        self._shared = SpanShared(
            self._processor,
            tracer.resource,
            private(tracer, "instrumentation_scope"),
            tracer.instrumentation_info,
            private(tracer, "span_limits"),
            _tuple_context if CHECKED.get("fast_contexts") is None else _public_context,
        )
        # A tracer switched off by the SDK's tracer configuration makes no spans (SDK_1_40).
        self._is_enabled: Callable[[], bool] = private(tracer, "is_enabled") if SDK_1_40 else _always
        self._id_generator = tracer.id_generator
        is_random = getattr(tracer.id_generator, "is_trace_id_random", None)  # opentelemetry-sdk >= 1.35
        self._random_ids = bool(_RANDOM and is_random is not None and is_random())
        # The SDK's default generator draws from the random module until an id is valid (not 0):
        # the same draws made here save two calls per request.
        self._getrandbits = random.getrandbits if type(tracer.id_generator) is RandomIdGenerator else None
        self._sampler = tracer.sampler
        self._ratio_bound = parent_based_ratio_bound(tracer.sampler)
        # The SDK's own span metrics (opentelemetry-sdk >= 1.39) when a meter provider is configured
        # for them; a no-op otherwise, and absent from older SDKs.
        metrics = getattr(tracer, NAMES["tracer_metrics"], None)
        self._tracer_metrics = metrics if metrics is not None and type(metrics).__name__ != "NoOpTracerMetrics" else None
        self._checked: tuple[SpanProcessor, ...] | None = None
        self._usable = False
        # Contexts by tuple.__new__ only for ids valid by construction (the default generator's).
        if self._getrandbits is None:
            self._shared.make_context = _public_context
        self._unsampled = _unsampled_fast if CHECKED.get("unsampled_spans") is None else _unsampled_public

    @classmethod
    def for_tracer(cls, tracer: trace.Tracer) -> LeanSpans | None:
        """A starter for ``tracer``, or None when it is not the SDK's or lean spans are off."""
        if type(tracer) is not SdkTracer or CHECKED.get("lean_spans") is not None:
            return None
        try:
            return cls(tracer)
        except AttributeError:  # a tracer whose internals differ from the checked one's
            return None

    def _recheck(self) -> bool:
        """Whether ``start`` may make spans: the processors are the checked kinds."""
        processors = getattr(self._processor, self._processors_name)
        self._checked = processors
        self._usable = all(_inert(p) for p in processors)
        # Spans in flight end into the processors as they are now, added ones included.
        only = processors[0] if len(processors) == 1 else None
        self._shared.batch = only if type(only) is CountingBatchSpanProcessor else None
        return self._usable

    def start(
        self,
        name: str,
        parent_context: Context | None,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
    ) -> trace.Span | None:
        tracer = self._tracer
        if tracer.span_processor is not self._processor:
            return None
        if (
            getattr(self._processor, self._processors_name) is not self._checked or not self._usable
        ) and not self._recheck():
            return None
        if not self._is_enabled():
            return None
        if parent_context is None:
            parent_context = get_current()  # what start_span(context=None) reads
        # An empty context (a request without traceparent) holds no span: no lookup for it.
        parent = trace.get_current_span(parent_context).get_span_context() if parent_context else _NO_PARENT
        getrandbits = self._getrandbits
        if not parent.is_valid:
            parent_or_none: SpanContext | None = None
            if getrandbits is not None:
                trace_id = getrandbits(128)
                while not trace_id:
                    trace_id = getrandbits(128)
            else:
                trace_id = self._id_generator.generate_trace_id()
            random_ids = self._random_ids
        else:
            parent_or_none = parent
            trace_id = parent.trace_id
            random_ids = bool(parent.trace_flags & _RANDOM)

        bound = self._ratio_bound
        if bound is not None:
            if parent_or_none is None:
                sampled = trace_id & _TRACE_ID_LIMIT < bound
                trace_state = None
            else:
                # ParentBased with its default delegates: follow the parent's decision.
                sampled = parent_or_none.trace_flags.sampled
                trace_state = parent_or_none.trace_state
            decision = _RECORD_AND_SAMPLE if sampled else _DROP
            sampler_attributes: types.Attributes = None
        else:
            result = self._sampler.should_sample(parent_context, trace_id, name, _SERVER, attributes, None)
            decision = result.decision
            sampled = decision is _RECORD_AND_SAMPLE
            trace_state = result.trace_state
            sampler_attributes = result.attributes

        if getrandbits is not None:
            span_id = getrandbits(64)
            while not span_id:
                span_id = getrandbits(64)
        else:
            span_id = self._id_generator.generate_span_id()
        trace_flags = _TRACE_FLAGS[(_SAMPLED if sampled else 0) | (_RANDOM if random_ids else 0)]
        state = trace_state if trace_state is not None else DEFAULT_TRACE_STATE
        tracer_metrics = self._tracer_metrics
        on_end_metrics = tracer_metrics.start_span(parent_or_none, decision) if tracer_metrics is not None else None
        if decision is _DROP:
            return self._unsampled(self._shared.make_context(trace_id, span_id, trace_flags, state))
        if sampler_attributes:
            attributes = {**sampler_attributes, **attributes}
        return ServerSpan(
            name, trace_id, span_id, trace_flags, state, parent_or_none, attributes, start_time, self._shared,
            on_end_metrics,
        )  # fmt: skip


# --- the duration histogram and the request counter ---------------------------------------------

_EXEMPLAR_FIELDS = ("labels", "value", "timestamp")


class DurationChild:
    """One (method, route, status): ``observe(seconds, exemplar, now)`` adds the duration to
    ``histogram`` (the child of its method and route) and counts it in ``requests`` (the counter's).

    ``Histogram.observe`` with an exemplar validates its labels (a regex per name) on every call:
    with the bucket loop, 13.5k instructions a request under callgrind. Here the exemplars always
    have the same two names and hex values, so in one process the bucket, sum and count are
    updated as ``MutexValue.inc``/``set_exemplar`` do, under the values' locks (``fast_histogram``).
    Otherwise ``observe()`` and ``inc()``; in multiprocess mode (no exemplars there)
    ``exemplar_sink(bucket bound, exemplar, value, now)`` gets it. ``bounds`` end with ``+Inf``."""

    __slots__ = ("_bounds", "_buckets", "_count", "_histogram", "_requests", "_sum", "exemplar_sink")

    def __init__(self, histogram: Histogram, bounds: Sequence[float], requests: Counter) -> None:
        self._histogram = histogram
        self._requests = requests
        self._bounds = list(bounds)
        self._sum: Any = None
        self._count: Any = None
        self.exemplar_sink: Callable[[float, dict[str, str], float, float], None] | None = None
        if CHECKED.get("fast_histogram") is not None or type(histogram).observe is not Histogram.observe:
            return
        if type(requests).inc is not Counter.inc:
            return
        try:
            own_bounds = list(private(histogram, "histogram_bounds"))
            buckets = list(private(histogram, "histogram_buckets"))
            total = private(histogram, "histogram_sum")
            count = private(requests, "counter_value")
        except AttributeError:
            return
        same = own_bounds == self._bounds and len(buckets) == len(own_bounds)
        if same and all(type(value) is MutexValue for value in [total, count, *buckets]):
            self._buckets, self._sum, self._count = buckets, total, count

    def observe(self, seconds: float, exemplar: dict[str, str] | None, now: float) -> None:
        """As ``Histogram.observe(seconds, exemplar)`` with the exemplar stamped ``now``, and
        ``Counter.inc()``.

        ``exemplar`` must be valid (prometheus_client's rules): it is not checked here.
        """
        total = self._sum
        if total is None:
            self._requests.inc()
            sink = self.exemplar_sink
            if exemplar is not None and sink is not None:
                self._histogram.observe(seconds)
                if seconds == seconds:  # NaN: no bucket
                    sink(self._bounds[bisect_left(self._bounds, seconds)], exemplar, seconds, now)
                return
            self._histogram.observe(seconds, exemplar)
            return
        count = self._count
        with count._lock:
            count._value += 1
        with total._lock:
            total._value += seconds
        if seconds != seconds:  # NaN: observe() finds no bucket
            return
        # The first bucket whose bound is >= seconds, as observe's "amount <= bound" loop finds.
        value = self._buckets[bisect_left(self._bounds, seconds)]
        if exemplar:
            sample = _new_tuple(Exemplar, (exemplar, seconds, now))
            with value._lock:  # the count and its exemplar in one hold of the bucket's lock
                value._value += 1
                value._exemplar = sample
        else:
            with value._lock:
                value._value += 1

    @property
    def fast(self) -> bool:
        return self._sum is not None


# --- Flask and FastAPI ------------------------------------------------------------------------


def flask_request_context() -> Any | None:
    """The ContextVar of the request Flask is handling (Flask >= 2.2), or None."""
    if CHECKED.get("flask_request_context") is not None:
        return None
    try:
        import flask.globals

        return private(flask.globals, "flask_request_context")
    except (ImportError, AttributeError):
        return None


def fastapi_native_telemetry(app: Any) -> dict[str, Any] | None:
    """FastAPI's per-app native telemetry switches (FastAPI >= 0.16x, which has a ``fastapi.telemetry``
    package), or None: an older FastAPI has none, a newer one that moved them is said once."""
    try:
        switches = private(app, "fastapi_telemetry")
    except AttributeError:
        import importlib.util

        if importlib.util.find_spec("fastapi.telemetry") is not None:
            _report_once("fastapi_native_telemetry", f"the app has no {NAMES['fastapi_telemetry']}")
        return None
    return switches if isinstance(switches, dict) else None


def fastapi_effective_path(scope: Mapping[str, Any], route: Any) -> str | None:
    """The route template of a request FastAPI or Starlette routed: the full template FastAPI
    stored for a route of a lazily included router, else the matched route's own path."""
    fastapi_scope = scope.get("fastapi")
    if fastapi_scope is not None and type(fastapi_scope) is dict:
        effective = fastapi_scope.get(_EFFECTIVE_ROUTE_KEY[0])
        if effective is not None:
            # ``path``; FastAPI < 0.16x leaves it empty for a plain route, whose own full route is
            # the context's ``starlette_route``.
            path = getattr(effective, "path", None) or getattr(getattr(effective, "starlette_route", None), "path", None)
            if type(path) is str and path:
                return path
    path = getattr(route, "path", None)
    return path if type(path) is str else None


_EFFECTIVE_ROUTE_KEY = [NAMES["fastapi_effective_route"]]


def contrib_instrumented(app: Any) -> bool:
    """Whether opentelemetry-python-contrib's FastAPI/Starlette/Flask instrumentation (by hand or
    by the zero-code agent) has instrumented ``app``: the flag it sets on the apps it instruments."""
    return getattr(app, NAMES["contrib_instrumented"], False) is True


# --- the checks -------------------------------------------------------------------------------


def _check_fast_contexts() -> None:
    flags = _TRACE_FLAGS[int(_SAMPLED)]
    made = _tuple_context(3, 5, flags, DEFAULT_TRACE_STATE)
    public = SpanContext(3, 5, False, flags, None)
    getattr(SpanContext, NAMES["span_context_layout"])
    if not (
        made == public
        and (made.trace_id, made.span_id, made.is_remote, made.is_valid) == (3, 5, False, True)
        and made.trace_flags is flags
        and made.trace_state is public.trace_state
    ):
        raise AttributeError("SpanContext is not the tuple (trace_id, span_id, is_remote, flags, state, is_valid)")


def _check_unsampled_spans() -> None:
    _UNSAMPLED_FIELD[0] = NAMES["non_recording_context"]
    context = SpanContext(3, 5, False, _TRACE_FLAGS[0], DEFAULT_TRACE_STATE)
    if _unsampled_fast(context).get_span_context() is not context:
        raise AttributeError("NonRecordingSpan does not keep its context where it did")


def _check_lean_spans() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("obs.instrumentation.check")
    lean = LeanSpans(tracer)  # type: ignore[arg-type]
    if lean._ratio_bound is None:
        raise AttributeError("ParentBased(TraceIdRatioBased) is not read as the SDK builds it")
    span = lean.start("GET", Context(), {"url.path": "/"}, 1)
    if type(span) is not ServerSpan:
        raise AttributeError("the tracer's processors or switch are not read as expected")
    span.end(2)
    (done,) = exporter.get_finished_spans()
    if (done.name, dict(done.attributes or {}), done.kind) != ("GET", {"url.path": "/"}, _SERVER):
        raise AttributeError("a lean span does not reach the processors as the SDK's does")


def _check_fast_histogram() -> None:
    fast, public = (CollectorRegistry(), CollectorRegistry())
    children, counters = [], []
    for registry in (fast, public):
        histogram = Histogram("obs_check_seconds", "check", ["l"], buckets=(0.1, 1.0), registry=registry)
        children.append(histogram.labels("x"))
        counters.append(Counter("obs_check_requests", "check", ["l", "s"], registry=registry).labels("x", "200"))
    child = DurationChild(children[0], (0.1, 1.0, float("inf")), counters[0])
    if not child.fast:
        raise AttributeError("the histogram's or the counter's values are not the MutexValues they were")
    value = private(children[0], "histogram_sum")
    for key in ("value_lock", "value_value", "value_exemplar"):  # what observe() below writes
        private(value, key)
    for n, seconds in enumerate((0.05, 0.5, 5.0)):
        labels = {"trace_id": f"{n:032x}"}
        child.observe(seconds, labels, 7.0)
        children[1].observe(seconds, labels)
        counters[1].inc()
    fields = tuple(getattr(Exemplar, "_fields", ()))
    if fields != _EXEMPLAR_FIELDS:
        raise AttributeError(f"Exemplar fields are {fields}")
    mine = [(s.name, s.labels, s.value, s.exemplar.labels if s.exemplar else None) for s in _samples(fast)]
    theirs = [(s.name, s.labels, s.value, s.exemplar.labels if s.exemplar else None) for s in _samples(public)]
    strip = {"obs_check_seconds_created", "obs_check_requests_created"}
    if [m for m in mine if m[0] not in strip] != [t for t in theirs if t[0] not in strip]:
        raise AttributeError("the fast update does not give what observe() and inc() give")


def _samples(registry: CollectorRegistry) -> list[Any]:
    return [sample for metric in registry.collect() for sample in metric.samples]


def _check_flask_request_context() -> None:
    try:
        import flask.globals
    except ImportError:
        return
    private(flask.globals, "flask_request_context").get(None)


_CHECKS: dict[str, Callable[[], None]] = {
    "fast_contexts": _check_fast_contexts,
    "unsampled_spans": _check_unsampled_spans,
    "lean_spans": _check_lean_spans,
    "fast_histogram": _check_fast_histogram,
    "flask_request_context": _check_flask_request_context,
}

#: Feature -> None when its fast path is used, else why not. Filled by ``check()`` at import.
CHECKED: dict[str, str | None] = {}
_REPORTED: set[str] = set()


def check() -> dict[str, str | None]:
    """Check every feature's private names and fast path (at import; the tests re-run it)."""
    _EFFECTIVE_ROUTE_KEY[0] = NAMES["fastapi_effective_route"]
    CHECKED.clear()
    _REPORTED.clear()
    for feature, probe in _CHECKS.items():
        CHECKED[feature] = None  # a check may use the features checked before it
        try:
            probe()
        except Exception as exc:  # anything unexpected: the public path
            CHECKED[feature] = f"{type(exc).__name__}: {exc}"
    return dict(CHECKED)


def _report_once(feature: str, why: str) -> None:
    if feature not in _REPORTED:
        _REPORTED.add(feature)
        _log.warning("obs %s off (%s): %s", feature, why, FEATURES.get(feature, ""))


def report() -> None:
    """Log once per process why each feature that failed its check is off (``instrument()`` calls
    it once logging is set up)."""
    for feature, why in CHECKED.items():
        if why is not None:
            _report_once(feature, why)


check()

__all__ = [
    "CHECKED",
    "FEATURES",
    "INTERNALS",
    "NAMES",
    "SDK_1_40",
    "DurationChild",
    "Internal",
    "LeanSpans",
    "check",
    "contrib_instrumented",
    "fastapi_effective_path",
    "fastapi_native_telemetry",
    "flask_request_context",
    "parent_based_ratio_bound",
    "private",
    "report",
]
