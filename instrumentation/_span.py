"""Server spans without the SDK span's per-span machinery, on the public span interfaces only.

Why: ``opentelemetry.sdk.trace.Tracer.start_span`` plus ``Span.end`` were most of the tracing cost
of a small endpoint: a ``BoundedAttributes`` with a lock that re-validates attributes the middleware
built itself, events and links ``BoundedList``s per span, a span lock, and a second ``ReadableSpan``
copy at the end. ``ServerSpan`` keeps the SDK span's semantics and drops that work:

- the middleware's own attributes live in a plain dict; attributes application code or hooks set
  go through the SDK's ``BoundedAttributes`` (validation, ``SpanLimits``, oldest dropped first),
  redacted with the contract's rules first: personal data must not reach a trace, whoever set it;
- it is itself the ``ReadableSpan`` the provider's processors receive: every property a processor
  or exporter reads is implemented here over the span's own fields (none of ``ReadableSpan``'s
  private fields is read or written), frozen at ``end()``; nothing changes it after that;
- its ``SpanContext`` is made when something asks for it (usually the exporter).

Starting spans (sampling, ids, the tracer's limits and processors) reads the SDK tracer's private
fields: that is ``_internals.LeanSpans``, behind the one door to other packages' internals.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import MappingProxyType, TracebackType

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationInfo, InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util import types

from exporters.span_batch import CountingBatchSpanProcessor

from ._redaction import redact_attributes, redact_text

_log = logging.getLogger("obs.instrumentation")

_SERVER = SpanKind.SERVER
_SAMPLED = TraceFlags.SAMPLED
_UNSET = Status(StatusCode.UNSET)
#: The keys the middleware sets when the response is known (``ServerSpan.set_response``).
_RESPONSE_KEYS = ("http.response.status_code", "http.route", "error.type")


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


class SpanShared:
    """What every server span of one tracer shares: resource, scope, limits, where it ends into,
    and how its ``SpanContext`` is made (``make_context(trace_id, span_id, flags, state)``)."""

    __slots__ = ("batch", "instrumentation_info", "limits", "make_context", "processor", "resource", "scope")

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource,
        scope: InstrumentationScope | None,
        instrumentation_info: InstrumentationInfo | None,
        limits: SpanLimits,
        make_context: Callable[[int, int, TraceFlags, TraceState], SpanContext],
    ) -> None:
        self.processor = processor
        self.resource = resource
        self.scope = scope
        self.instrumentation_info = instrumentation_info
        self.limits = limits
        self.make_context = make_context
        #: The provider's one span processor when it is obs's own batch processor: sampled spans go
        #: into its queue directly (its ``enqueue``); None: ``processor.on_end``.
        self.batch: CountingBatchSpanProcessor | None = None


class ServerSpan(trace.Span, ReadableSpan):
    """A recording server span: the ``opentelemetry.trace.Span`` API over plain fields, and the
    ``ReadableSpan`` the span processors receive once it has ended."""

    __slots__ = (
        "_attrs", "_ctx", "_dropped_events", "_end", "_event_list", "_events_final", "_flags", "_link_list",
        "_links_final", "_obs_name", "_on_end_metrics", "_own", "_parent_ctx", "_shared", "_span_id", "_start",
        "_state", "_status_now", "_trace_id", "_user_attributes",
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
        shared: SpanShared,
        on_end_metrics: Callable[[], None] | None = None,
        context: SpanContext | None = None,
    ) -> None:
        # ReadableSpan.__init__ is not called: every property it would serve is served here.
        self._obs_name = name
        # The span context is made when something asks for it, usually the exporter: held as a
        # field, it is one more object the garbage collector tracks for every span waiting in the
        # batch queue (a SpanContext is a tuple holding a TraceState). ``context``: one made already.
        self._trace_id = trace_id
        self._span_id = span_id
        self._flags = flags
        self._state = trace_state
        self._ctx = context
        self._parent_ctx = parent
        # While recording, the middleware's attributes; at end, the merged final ones.
        self._own = attributes
        self._attrs: types.Attributes = attributes
        self._start = start_time
        self._end: int | None = None
        self._shared = shared
        # Made on the first event or link (most server spans have none): an ended span waits in the
        # batch queue for hundreds of requests, and every container it holds is one more object the
        # garbage collector counts and scans (two empty lists: 373 -> 475 young collections per
        # 30,000 Flask requests).
        self._event_list: list[Event] | None = None
        self._link_list: list[trace.Link] | None = None
        self._events_final: Sequence[Event] = ()
        self._links_final: Sequence[trace.Link] = ()
        self._status_now = _UNSET
        self._user_attributes: BoundedAttributes | None = None
        self._dropped_events = 0
        self._on_end_metrics = on_end_metrics

    # --- read: trace.Span and ReadableSpan --------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = self._shared.make_context(self._trace_id, self._span_id, self._flags, self._state)
        return ctx

    @property
    def context(self) -> SpanContext:
        return self.get_span_context()

    def log_ids(self) -> tuple[str | None, str | None]:
        """``sampled_ids`` of this span's context, from its ids (no context made for it)."""
        if not self._flags & _SAMPLED:
            return None, None
        return "%032x" % self._trace_id, "%016x" % self._span_id  # noqa: UP031 - see sampled_ids

    def is_recording(self) -> bool:
        return self._end is None

    @property
    def name(self) -> str:
        return self._obs_name

    @property
    def kind(self) -> SpanKind:
        return _SERVER

    @property
    def parent(self) -> SpanContext | None:
        return self._parent_ctx

    @property
    def start_time(self) -> int | None:
        return self._start

    @property
    def end_time(self) -> int | None:
        return self._end

    @property
    def status(self) -> Status:
        return self._status_now

    @property
    def attributes(self) -> types.Attributes:
        if self._end is not None:
            return MappingProxyType(self._attrs or {})
        return MappingProxyType(dict(self._merged_attributes() or {}))

    @property
    def events(self) -> Sequence[Event]:
        return self._events_final if self._end is not None else tuple(self._event_list or ())

    @property
    def links(self) -> Sequence[trace.Link]:
        return self._links_final if self._end is not None else tuple(self._link_list or ())

    @property
    def resource(self) -> Resource:
        return self._shared.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope | None:
        return self._shared.scope

    @property
    def instrumentation_info(self) -> InstrumentationInfo | None:
        return self._shared.instrumentation_info

    @property
    def dropped_attributes(self) -> int:
        attributes = self._attrs if self._end is not None else self._merged_attributes()
        return attributes.dropped if isinstance(attributes, BoundedAttributes) else 0

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        return 0

    def to_json(self, indent: int | None = 4) -> str:
        return str(self._readable().to_json(indent))

    def _readable(self) -> ReadableSpan:
        """The same span as the SDK's own ``ReadableSpan`` (its public constructor)."""
        return ReadableSpan(
            name=self.name, context=self.context, parent=self.parent, resource=self.resource,
            attributes=self.attributes, events=self.events, links=self.links, kind=self.kind,
            status=self.status, start_time=self.start_time, end_time=self.end_time,
            instrumentation_scope=self.instrumentation_scope,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f'ServerSpan(name="{self._obs_name}", context={self.get_span_context()})'

    # --- write (what the middleware itself sets: already clean, no validation) ------------------

    def set_response(self, name: str | None, status: int, route: str | None, error_type: str | None) -> None:
        """The response's attributes (status, route, error type) and, with a route, the span's name,
        written straight into the span's own attributes: one call, no attribute dict built."""
        if self._end is not None:
            return
        own = self._own
        own["http.response.status_code"] = status
        if route is not None:
            own["http.route"] = route
        if name is not None:
            self._obs_name = name
        if error_type is not None:
            own["error.type"] = error_type
        user = self._user_attributes
        if user is not None:
            # Set last, as on the SDK span: the middleware's value wins over an earlier hook's.
            for key in _RESPONSE_KEYS:
                if key in user and key in own:
                    del user[key]

    def add_own_event(self, name: str, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end is None:
            self._append_event(Event(name, attributes, time_ns()))

    # --- write (the public API: application code and hooks) -------------------------------------

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end is not None:
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
        if self._end is not None:
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
        cap = self._shared.limits.max_events
        if cap is not None and len(events) >= cap:
            # As the SDK's BoundedList: the newest events are kept, the oldest dropped and counted.
            self._dropped_events += 1
            if cap == 0:
                return
            del events[0]
        events.append(event)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end is not None or context is None or not context.is_valid:
            return
        limits = self._shared.limits
        links = self._link_list
        if links is None:
            links = self._link_list = []
        if limits.max_links is not None and len(links) >= limits.max_links:
            return
        bounded = BoundedAttributes(
            limits.max_link_attributes, attributes, immutable=True, max_value_len=limits.max_attribute_length
        )
        links.append(trace.Link(context, bounded))

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._obs_name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET never overrides.
        if self._end is not None or self._status_now.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status_now = status
        elif status is not StatusCode.UNSET:
            self._status_now = Status(status, description)

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
        if self._end is not None:
            return
        # The final fields, before the end time marks the span read-only for the processors.
        if self._user_attributes is not None:
            self._attrs = self._merged_attributes()
            self._user_attributes = None
        if self._event_list is not None:
            self._events_final = self._bounded_events() if self._event_list else ()
            self._event_list = None
        if self._link_list is not None:
            self._links_final = tuple(self._link_list)
            self._link_list = None
        self._end = end_time if end_time is not None else time_ns()
        if self._on_end_metrics is not None:
            self._on_end_metrics()
        shared = self._shared
        batch = shared.batch
        # What the batch processor's on_end checks first, known here without making the context.
        if batch is not None and self._flags & _SAMPLED:
            # CountingBatchSpanProcessor.enqueue, inline for the usual case (a Python call saved
            # per request); anything else (a full queue, shut down) through it.
            queue = batch._queue
            if not batch._shutdown and len(queue) < batch.max_queue_size:
                queue.append(self)
                if len(queue) >= batch.max_export_batch_size and not batch._wake.is_set():
                    batch._wake.set()
                return
            batch.enqueue(self)
        else:
            shared.processor.on_end(self)

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
        events.dropped = self._dropped_events  # public field of the SDK's BoundedList
        return events


__all__ = ["ServerSpan", "SpanShared", "UnsampledSpan", "sampled_ids"]
