"""Server spans without the SDK's per-span machinery, exported through the SDK's own processors.

Why: ``opentelemetry.sdk.trace.Tracer.start_span`` plus ``Span.end`` cost about 40 µs per request
on a shared 2-core machine, most of the tracing cost of a small endpoint. The time goes to work a
server span does not need: a ``BoundedAttributes`` with a lock that re-validates attributes we
built ourselves, an events ``BoundedList`` and a links ``BoundedList`` per span, a span lock, a
sampler chain that looks the parent up in the context three times, and a second ``ReadableSpan``
copy at the end. ``LeanSpans`` keeps the SDK's semantics and drops that work:

- sampling: ``ParentBased(TraceIdRatioBased)`` (what ``build_tracer_provider`` installs, and the
  ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` default) is decided inline with the SDK's exact
  arithmetic; any other sampler is called through its normal ``should_sample``;
- a sampled request gets a ``ServerSpan``: plain dict attributes, limits and redaction applied
  only to what application code or hooks add, and on ``end()`` the span itself, a
  ``ReadableSpan`` with the same fields, handed to the provider's span processors (so
  ``BatchSpanProcessor``, exporters and the collector see exactly what the SDK would give them,
  without the SDK's copy into a second object); when the provider's one processor is the SDK's
  ``BatchSpanProcessor``, a sampled span is put on its queue directly (``direct_batch``);
- an unsampled request gets an ``UnsampledSpan``, a ``NonRecordingSpan`` carrying the new span
  context (as the SDK's), whose type tells the middleware there is nothing to end or log;
- span contexts are built as the tuple ``SpanContext.__new__`` builds, without its range checks,
  when the ids are valid by construction and the installed API's layout was checked at import; a
  sampled span builds its own only when asked (usually by the exporter), so the spans waiting in a
  batch processor's queue hold one object fewer for the garbage collector to track.

The fast path is used only while it is indistinguishable from the SDK's: an SDK ``Tracer`` that is
enabled, whose processors do nothing at span start (``SimpleSpanProcessor``, ``BatchSpanProcessor``
or processors that do not override ``on_start``/``_on_ending``). A provider that gains another
kind of processor later is noticed on the next request, which then goes through ``start_span``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import random
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import MappingProxyType, TracebackType
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util import types

from ._redaction import redact_attributes, redact_text

try:  # what BatchSpanProcessor hands spans to (opentelemetry-sdk >= 1.34)
    from opentelemetry.sdk._shared_internal import BatchProcessor as _SdkBatchProcessor
except ImportError:  # pragma: no cover - an SDK without it: spans go through on_end
    _SdkBatchProcessor = None  # type: ignore[assignment,misc]

try:  # the SDK's span metrics (opentelemetry-sdk >= 1.39); older SDKs use Tracer.start_span
    from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
except ImportError:  # pragma: no cover
    NoOpTracerMetrics = None  # type: ignore[assignment,misc]

_log = logging.getLogger("obs.instrumentation")

_SERVER = SpanKind.SERVER
_SAMPLED = TraceFlags.SAMPLED
_RANDOM = TraceFlags.RANDOM_TRACE_ID
_UNSET = Status(StatusCode.UNSET)
#: The four flag combinations a server span can get, made once (index: the flags' int value).
_TRACE_FLAGS = tuple(TraceFlags(flags) for flags in range((_SAMPLED | _RANDOM) + 1))

#: Processors known to do nothing when a span starts or is ending (the SDK's two exporters' paths).
_INERT_ON_START = {SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start}
_INERT_ON_ENDING = {SpanProcessor._on_ending, SimpleSpanProcessor._on_ending, BatchSpanProcessor._on_ending}

_new_tuple = tuple.__new__
_new_object = object.__new__
_RECORD_AND_SAMPLE = Decision.RECORD_AND_SAMPLE
_DROP = Decision.DROP
_TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT


def _span_context_layout_matches() -> bool:
    """Whether ``SpanContext`` is the tuple (trace_id, span_id, is_remote, flags, state, is_valid)
    its constructor builds (opentelemetry-api 1.x). Then a context whose ids are valid by
    construction is made with ``tuple.__new__`` directly (one C call instead of a Python
    ``__new__`` with range checks) and read by index; otherwise the public API is used."""
    try:
        flags = _TRACE_FLAGS[int(_SAMPLED)]
        public = SpanContext(3, 5, False, flags, None)
        made = _new_tuple(SpanContext, (3, 5, False, flags, DEFAULT_TRACE_STATE, True))
        return (
            made == public
            and (made.trace_id, made.span_id, made.is_remote, made.is_valid) == (3, 5, False, True)
            and made.trace_flags is flags
            and made.trace_state is public.trace_state
        )
    except Exception:  # pragma: no cover - an API whose SpanContext changed shape
        return False


#: Checked once at import: see ``_span_context_layout_matches``.
FAST_CONTEXT = _span_context_layout_matches()


def sampled_ids(ctx: SpanContext) -> tuple[str | None, str | None]:
    """(trace id, span id) in hex for logs and exemplars, or (None, None) when not sampled."""
    if not ctx.trace_flags.sampled:
        return None, None
    # printf-style on purpose: a third of format()'s cost, which parses its format spec on every
    # call (callgrind: 3.0k instructions for both ids against 5.9k).
    return "%032x" % ctx.trace_id, "%016x" % ctx.span_id  # noqa: UP031


class UnsampledSpan(NonRecordingSpan):
    """The span of a request the sampler dropped: a ``NonRecordingSpan`` (what the SDK gives), whose
    exact type tells the middleware that there is nothing to end and no ids to log."""


#: This process's id, kept by a fork hook rather than asked of the kernel for every span.
_PROCESS = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PROCESS.__setitem__(0, os.getpid()))

_BATCH_FIELDS = ("_queue", "_max_queue_size", "_max_export_batch_size", "_worker_awaken", "_pid", "_shutdown")


#: sha256 of ``BatchProcessor.emit``'s source (dedented), for each SDK release whose ``emit`` was
#: read and found to do, for a span it does not refuse (shut down, forked, full queue), exactly what
#: ``ServerSpan.end`` does: append to the queue's left and wake the exporting thread at a full batch.
#: An SDK whose ``emit`` is not listed sends every span through ``on_end`` (correct, five calls
#: slower) until its ``emit`` has been read and added here.
EMIT_SOURCES_READ: dict[str, str] = {
    "ed08f9f34c53a62d06c62f666f28d4fbfb629bd0370825b5bdb47b6f75d112a4": "1.34.0-1.39.0",
    "cdafd5af386165546c5b2ae94426e4f192df2b625dfdcbf6945e183693d33c97": "1.40.0 (logs a full queue)",
    "55045166fa79e12c4ab6172ff617e442d0be9857c09051b4397380d9797f4342": "1.41.0-1.42.0 (+ drop metrics)",
    "cc04fd3024dc3a252d10d9c3419b4715f7d97fb1ac9f7f74f4043cbbc065152a": "1.43.0-1.44.0 (wakes only a sleeper)",
    "1a39439e040d5e5e51d0f39b878bbde1d9f7e6101b30b5dbb9b6c0a12e89a260": "1.45.1 (+ shutdown drop metric)",
}


@functools.cache
def emit_was_read() -> bool:
    """Whether the installed SDK's ``BatchProcessor.emit`` is one listed in ``EMIT_SOURCES_READ``."""
    if _SdkBatchProcessor is None:
        return False
    try:
        source = inspect.getsource(_SdkBatchProcessor.emit)
    except (OSError, TypeError):  # no source shipped: nothing to compare
        return False
    if hashlib.sha256(textwrap.dedent(source).encode()).hexdigest() in EMIT_SOURCES_READ:
        return True
    _log.debug("opentelemetry-sdk's BatchProcessor.emit is not one obs has read; spans end through on_end")
    return False


def direct_batch(processors: Sequence[SpanProcessor]) -> Any | None:
    """The SDK's ``BatchProcessor`` (queue and all) behind ``processors`` when it is their only one, else None.

    ``BatchSpanProcessor.on_end`` reaches its queue through five Python calls (the multi-processor's
    loop, ``on_end``, the sampled check's two properties, ``BatchProcessor.emit``) and a ``getpid``
    system call per span. A span whose provider has that one processor is put on the same queue
    under the same conditions directly by ``ServerSpan.end``, which falls back to ``on_end`` for
    anything ``emit`` does beyond the append (a full queue, shutdown, a forked process). Only for an
    ``emit`` it is known to mirror (``EMIT_SOURCES_READ``).
    """
    if len(processors) != 1 or type(processors[0]) is not BatchSpanProcessor or not emit_was_read():
        return None
    batch = getattr(processors[0], "_batch_processor", None)
    if type(batch) is not _SdkBatchProcessor or not all(hasattr(batch, name) for name in _BATCH_FIELDS):
        return None
    return batch


class _Shared:
    """What every span of one tracer shares: resource, scope, limits, the processor to end into."""

    __slots__ = ("batch", "instrumentation_info", "limits", "processor", "resource", "scope")

    def __init__(self, tracer: SdkTracer) -> None:
        self.processor: SpanProcessor = tracer.span_processor
        #: Set by ``LeanSpans`` from the processors it checked: see ``direct_batch``.
        self.batch: Any | None = None
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope
        self.instrumentation_info = tracer.instrumentation_info
        self.limits: SpanLimits = tracer._span_limits


class ServerSpan(trace.Span, ReadableSpan):
    """A recording server span: the ``opentelemetry.trace.Span`` API over plain fields.

    One request owns it. The middleware's own attributes live in a plain dict; attributes set by
    application code or hooks go through the SDK's ``BoundedAttributes`` (validation, ``SpanLimits``,
    oldest-dropped-first) and are redacted with the contract's rules first: personal data must not
    reach a trace, whoever set it.

    Like the SDK's own span it is also the ``ReadableSpan`` the processors receive: at ``end()`` its
    fields take their final form (attributes merged, events and links frozen) and the span itself
    is handed on, where the SDK copies every field into a second object. Nothing changes it after
    that: every write checks that the span has not ended.
    """

    __slots__ = (
        "_ctx", "_dropped_events", "_event_list", "_flags", "_link_list", "_on_end_metrics", "_own", "_shared",
        "_span_id", "_trace_id", "_trace_state", "_user_attributes",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        flags: TraceFlags,
        trace_state: TraceState,
        parent: SpanContext | None,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
        shared: _Shared,
        on_end_metrics: Callable[[], None] | None = None,
        context: SpanContext | None = None,
    ) -> None:
        self._name = name
        # The span context is made when something asks for it (``_context``), usually the exporter:
        # held as a field, it is one more object the garbage collector tracks for every span
        # waiting in the batch processor's queue (a SpanContext is a tuple subclass that holds a
        # TraceState, so the collector never stops tracking it). ``context``: one made already.
        self._trace_id = trace_id
        self._span_id = span_id
        self._flags = flags
        self._trace_state = trace_state
        self._ctx = context
        self._parent = parent
        # While recording, ReadableSpan's _attributes/_events/_links are these same objects.
        self._own = self._attributes = attributes
        self._start_time = start_time
        self._end_time: int | None = None
        self._shared = shared
        # Made on the first event or link (most server spans have none). An ended span waits in the
        # batch processor's queue for hundreds of requests, and every container it holds is one
        # more object the garbage collector counts, promotes and scans meanwhile: the two empty
        # lists took a Flask service from 373 to 475 young collections per 30,000 requests.
        self._event_list: list[Event] | None = None
        self._link_list: list[trace.Link] | None = None
        self._events = ()
        self._links = ()
        self._status = _UNSET
        # The rest of ReadableSpan's fields (its __init__ is not called: these are all it sets).
        self._kind = _SERVER
        self._resource = shared.resource
        self._instrumentation_info = shared.instrumentation_info
        self._instrumentation_scope = shared.scope
        self._user_attributes: BoundedAttributes | None = None
        self._dropped_events = 0
        self._on_end_metrics = on_end_metrics

    # --- read ----------------------------------------------------------------------------------

    @property  # ReadableSpan's field, made on first read
    def _context(self) -> SpanContext:
        ctx = self._ctx
        if ctx is None:
            # Only spans of the fast path come without one: ids valid by construction (see FAST_CONTEXT).
            ctx = self._ctx = _new_tuple(
                SpanContext, (self._trace_id, self._span_id, False, self._flags, self._trace_state, True)
            )
        return ctx

    @_context.setter
    def _context(self, context: SpanContext) -> None:
        self._trace_id, self._span_id = context.trace_id, context.span_id
        self._flags, self._trace_state = context.trace_flags, context.trace_state
        self._ctx = context

    def get_span_context(self) -> SpanContext:
        return self._context

    def log_ids(self) -> tuple[str | None, str | None]:
        """``sampled_ids`` of this span's context, from its ids (no context made for it)."""
        if not self._flags & _SAMPLED:
            return None, None
        return "%032x" % self._trace_id, "%016x" % self._span_id  # noqa: UP031 - see sampled_ids

    def is_recording(self) -> bool:
        return self._end_time is None

    @property
    def name(self) -> str:
        return self._name

    @property
    def attributes(self) -> types.Attributes:
        if self._end_time is not None:
            return MappingProxyType(self._attributes or {})
        return MappingProxyType(dict(self._merged_attributes() or {}))

    @property
    def kind(self) -> SpanKind:
        return _SERVER

    @property
    def status(self) -> Status:
        return self._status

    def __repr__(self) -> str:
        return f'ServerSpan(name="{self._name}", context={self._context})'

    # --- write (what the middleware itself sets: already clean, no validation) ------------------

    def set_response(self, name: str | None, status: int, route: str | None, error_type: str | None) -> None:
        """The response's attributes (status, route, error type) and, with a route, the span's name,
        written straight into the span's own attributes: one call, no attribute dict built."""
        if self._end_time is not None:
            return
        own = self._own
        own["http.response.status_code"] = status
        if route is not None:
            own["http.route"] = route
        if name is not None:
            self._name = name
        if error_type is not None:
            own["error.type"] = error_type
        user = self._user_attributes
        if user is not None:
            # Set last, as on the SDK span: the middleware's value wins over an earlier hook's.
            for key in ("http.response.status_code", "http.route", "error.type"):
                if key in user and key in own:
                    del user[key]

    def add_own_event(self, name: str, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end_time is None:
            self._append_event(Event(name, attributes, time_ns()))

    # --- write (the public API: application code and hooks) -------------------------------------

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end_time is not None:
            _log.debug("set_attribute on an ended span ignored")
            return
        user = self._user_attributes
        if user is None:
            limits = self._shared.limits
            user = self._user_attributes = BoundedAttributes(
                limits.max_span_attributes, immutable=False, max_value_len=limits.max_span_attribute_length
            )
        if isinstance(key, str) and key:
            value = redact_attributes({key: value})[key]
        user[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end_time is not None:
            return
        limits = self._shared.limits
        bounded = BoundedAttributes(
            limits.max_event_attributes,
            redact_attributes(attributes) if attributes else None,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        self._append_event(Event(name, bounded, timestamp if timestamp is not None else time_ns()))

    def _append_event(self, event: Event) -> None:
        events = self._event_list
        if events is None:
            events = self._event_list = []
            self._events = events  # read through ReadableSpan.events while recording
        cap = self._shared.limits.max_events
        if cap is not None and len(events) >= cap:
            # As the SDK's BoundedList: the newest events are kept, the oldest dropped and counted.
            self._dropped_events += 1
            if cap == 0:
                return
            del events[0]
        events.append(event)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is not None or context is None or not context.is_valid:
            return
        limits = self._shared.limits
        links = self._link_list
        if links is None:
            links = self._link_list = []
            self._links = links
        if limits.max_links is not None and len(links) >= limits.max_links:
            return
        bounded = BoundedAttributes(
            limits.max_link_attributes, attributes, immutable=True, max_value_len=limits.max_attribute_length
        )
        links.append(trace.Link(context, bounded))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET never overrides.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event: dict[str, types.AttributeValue] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)  # redacted there

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.is_recording():
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, redact_text(f"{type(exc_val).__name__}: {exc_val}")))
        super().__exit__(exc_type, exc_val, exc_tb)

    # --- end -------------------------------------------------------------------------------------

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        # The final fields, before _end_time marks the span read-only for the processors.
        if self._user_attributes is not None:
            self._attributes = self._merged_attributes()
            self._user_attributes = None
        if self._event_list is not None:
            self._events = self._bounded_events() if self._event_list else ()
            self._event_list = None
        if self._link_list is not None:
            self._links = tuple(self._link_list)
            self._link_list = None
        self._end_time = end_time if end_time is not None else time_ns()
        if self._on_end_metrics is not None:
            self._on_end_metrics()
        batch = self._shared.batch
        # What BatchSpanProcessor.on_end checks (context.trace_flags.sampled).
        if batch is not None and self._flags & _SAMPLED:
            # BatchProcessor.emit, for the case it has nothing else to do.
            queue = batch._queue
            if not batch._shutdown and batch._pid == _PROCESS[0] and len(queue) < batch._max_queue_size:
                queue.appendleft(self)
                if len(queue) >= batch._max_export_batch_size and not batch._worker_awaken.is_set():
                    batch._worker_awaken.set()
                return
        self._shared.processor.on_end(self)

    def _merged_attributes(self) -> types.Attributes:
        user = self._user_attributes
        if user is None:
            return self._own
        # Same order and limit as the SDK span: own attributes first, then the application's.
        merged = BoundedAttributes(self._shared.limits.max_span_attributes, self._own, immutable=False)
        merged.update(user)
        merged.dropped += user.dropped
        return merged

    def _bounded_events(self) -> Sequence[Event]:
        event_list = self._event_list or []
        if not self._dropped_events:
            return tuple(event_list)
        events = BoundedList.from_seq(self._shared.limits.max_events, event_list)
        events.dropped = self._dropped_events  # ReadableSpan reports it from a BoundedList only
        return events


class LeanSpans:
    """Starts server spans for one SDK tracer; ``start`` returns None when the SDK path must be used."""

    def __init__(self, tracer: SdkTracer) -> None:
        self._tracer = tracer
        self._shared = _Shared(tracer)
        self._id_generator = tracer.id_generator
        self._random_ids = bool(tracer.id_generator.is_trace_id_random())
        # The SDK's default generator draws from the random module until an id is valid (not 0):
        # the same draws made here save two calls per request.
        self._getrandbits = random.getrandbits if type(tracer.id_generator) is RandomIdGenerator else None
        self._sampler = tracer.sampler
        self._ratio_bound = _parent_based_ratio_bound(tracer.sampler)
        tracer_metrics = tracer._tracer_metrics
        # The SDK's own span metrics, when a meter provider is configured for them; else a no-op.
        self._tracer_metrics = None if type(tracer_metrics) is NoOpTracerMetrics else tracer_metrics
        self._processor = tracer.span_processor
        self._multi = isinstance(self._processor, SynchronousMultiSpanProcessor)
        self._checked: tuple[SpanProcessor, ...] | None = None
        self._usable = False
        # Tracer._is_enabled() reads this (SDK >= 1.39); read directly where it exists.
        self._has_config = hasattr(tracer, "_tracer_config")
        # Contexts by tuple.__new__ only for ids valid by construction (the default generator's).
        self._fast_context = FAST_CONTEXT and self._getrandbits is not None

    @classmethod
    def for_tracer(cls, tracer: trace.Tracer) -> LeanSpans | None:
        """A starter for ``tracer``, or None when it is not the SDK's (then ``start_span`` is used)."""
        if type(tracer) is not SdkTracer:
            return None
        try:
            lean = cls(tracer)
        except AttributeError:  # an SDK whose internals moved: stay on the public path
            _log.debug("opentelemetry-sdk internals differ; server spans use Tracer.start_span")
            return None
        return lean

    def usable(self) -> bool:
        """Whether ``start`` may make spans: an enabled SDK tracer whose processors do nothing at start."""
        tracer = self._tracer
        processor = self._processor
        if tracer.span_processor is not processor or not self._multi:
            return False
        processors = processor._span_processors
        if processors is not self._checked:
            self._checked = processors
            self._usable = all(
                type(p).on_start in _INERT_ON_START and type(p)._on_ending in _INERT_ON_ENDING
                for p in processors
            )
            # Spans in flight end into the processors as they are now, added ones included.
            self._shared.batch = direct_batch(processors)
        return self._usable and tracer._is_enabled()

    def start(
        self,
        name: str,
        parent_context: Context | None,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
    ) -> trace.Span | None:
        # usable(), inline while nothing changed since the last check (the common case).
        tracer = self._tracer
        if (
            tracer.span_processor is not self._processor
            or not self._multi
            or self._processor._span_processors is not self._checked
            or not self._usable
        ):
            if not self.usable():
                return None
        elif not (tracer._tracer_config.is_enabled if self._has_config else tracer._is_enabled()):
            return None
        if parent_context is None:
            parent_context = get_current()  # what start_span(context=None) reads
        # trace.get_current_span(parent_context).get_span_context(), without two calls when the
        # context holds no span (a request without traceparent).
        current = parent_context.get(_SPAN_KEY)
        parent = current.get_span_context() if current is not None and isinstance(current, trace.Span) else None
        getrandbits = self._getrandbits
        if parent is None or not parent.is_valid:
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
            random_ids = parent.trace_flags.random_trace_id

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
        # A sampled span of the fast path makes its context when asked (see ServerSpan.__init__).
        context: SpanContext | None = None
        if not self._fast_context:
            context = SpanContext(trace_id, span_id, False, trace_flags, trace_state)
        tracer_metrics = self._tracer_metrics
        on_end_metrics = tracer_metrics.start_span(parent_or_none, decision) if tracer_metrics is not None else None
        if decision is _DROP:
            # NonRecordingSpan.__init__ only stores the context: no Python call for it here.
            unsampled: UnsampledSpan = _new_object(UnsampledSpan)
            unsampled._context = (
                context if context is not None
                else _new_tuple(SpanContext, (trace_id, span_id, False, trace_flags, state, True))
            )  # fmt: skip
            return unsampled
        if sampler_attributes:
            attributes = {**sampler_attributes, **attributes}
        return ServerSpan(
            name, trace_id, span_id, trace_flags, state, parent_or_none, attributes, start_time, self._shared,
            on_end_metrics, context,
        )  # fmt: skip


def _parent_based_ratio_bound(sampler: Any) -> int | None:
    """The ratio sampler's bound when ``sampler`` is ParentBased(TraceIdRatioBased) with default delegates."""
    if type(sampler) is not ParentBased:
        return None
    root = getattr(sampler, "_root", None)
    defaults = (
        getattr(sampler, "_remote_parent_sampled", None) is ALWAYS_ON
        and getattr(sampler, "_remote_parent_not_sampled", None) is ALWAYS_OFF
        and getattr(sampler, "_local_parent_sampled", None) is ALWAYS_ON
        and getattr(sampler, "_local_parent_not_sampled", None) is ALWAYS_OFF
    )
    if type(root) is not TraceIdRatioBased or not defaults:
        return None
    return int(root.bound)


__all__ = ["FAST_CONTEXT", "LeanSpans", "ServerSpan", "UnsampledSpan", "direct_batch", "sampled_ids"]
