"""The contract's HTTP server metrics on a prometheus_client registry, with a per-label-set child cache.

``Histogram.labels()`` takes a lock and validates its arguments on every call; the label sets here
are few (method, route template, status) and known to be safe, so their children are kept in a
plain dict after the first request.

``Histogram.observe`` with an exemplar validates the exemplar's labels (a regex per name, a
length sum) on every call: with the bucket loop, 13.5k instructions a request under callgrind.
The exemplar here always has the same two names and hex values well under the 128 runes allowed,
so :class:`DurationChild` stores into the same child's values directly (bisect for the bucket, the
request's end time for the exemplar's timestamp). It does so only for a child whose class and
internals are prometheus_client's as known; anything else gets ``observe()``.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from functools import partial

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.samples import Exemplar
from prometheus_client.values import MutexValue

from obs.contract import (
    HTTP_SERVER_ACTIVE,
    HTTP_SERVER_DURATION,
    INSTRUMENTATION_ERROR_STAGES,
    INSTRUMENTATION_ERRORS,
    TARGET_INFO,
    TRACE_SPAN_DROP_REASONS,
    TRACE_SPANS_DROPPED,
    TRACE_SPANS_EXPORTED,
)

#: Where an internal error was caught (the ``stage`` label of obs_instrumentation_errors_total).
STAGES: tuple[str, ...] = INSTRUMENTATION_ERROR_STAGES

_lock = threading.Lock()
_new_tuple = tuple.__new__
#: Exemplars are made as the tuple ``Exemplar(labels, value, timestamp)`` is (no Python ``__new__``).
_EXEMPLAR_FIELDS_MATCH = Exemplar._fields == ("labels", "value", "timestamp")
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, HttpMetrics] = weakref.WeakKeyDictionary()


class HttpMetrics:
    """The four families one service emits; one instance per registry (``for_registry``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        d, a, e, t = HTTP_SERVER_DURATION, HTTP_SERVER_ACTIVE, INSTRUMENTATION_ERRORS, TARGET_INFO
        self.duration = Histogram(
            d.prometheus_client_name, d.help, list(d.labels), buckets=d.buckets, registry=registry
        )
        # livesum: in-flight requests of the workers still alive; a dead worker's count vanishes
        # with it (child_exit → mark_process_dead) instead of staying stuck in the sum.
        self.active = Gauge(
            a.prometheus_client_name, a.help, list(a.labels), registry=registry, multiprocess_mode="livesum"
        )
        self.errors = Counter(e.prometheus_client_name, e.help, list(e.labels), registry=registry)
        # max: every worker writes 1 for the same identity; the aggregate is one series, not one per pid.
        self.target_info = Gauge(
            t.prometheus_client_name, t.help, list(t.labels), registry=registry, multiprocess_mode="max"
        )
        x, dr = TRACE_SPANS_EXPORTED, TRACE_SPANS_DROPPED
        self.spans_exported = Counter(x.prometheus_client_name, x.help, registry=registry)
        self.spans_dropped = Counter(dr.prometheus_client_name, dr.help, list(dr.labels), registry=registry)
        for reason in TRACE_SPAN_DROP_REASONS:
            self.spans_dropped.labels(reason)  # every reason's series from the start (rate() works)
        self._durations: dict[tuple[str, str, int], DurationChild] = {}
        self._actives: dict[str, ActiveChild] = {}
        self._errors = {stage: self.errors.labels(stage) for stage in STAGES}

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> HttpMetrics:
        with _lock:
            metrics = _by_registry.get(registry)
            if metrics is None:
                metrics = _by_registry[registry] = cls(registry)
                if registry is not REGISTRY:
                    # The global registry has its process collector already; an injected one gets its own
                    # so the contract's process_* metrics are there too.
                    ProcessCollector(registry=registry)
            return metrics

    def set_identity(self, service_name: str, service_version: str, environment: str) -> None:
        self.target_info.labels(service_name, service_version, environment).set(1)

    def duration_child(self, method: str, route: str, status: int) -> DurationChild:
        key = (method, route, status)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = DurationChild(self.duration.labels(method, route, str(status)))
        return child

    def active_child(self, method: str) -> ActiveChild:
        child = self._actives.get(method)
        if child is None:
            child = self._actives[method] = ActiveChild(self.active.labels(method))
        return child

    def count_error(self, stage: str) -> None:
        try:
            child = self._errors.get(stage) or self.errors.labels(stage)
            child.inc()
        except Exception:  # the error counter itself must never raise into a request
            pass


class DurationChild:
    """One label set of the duration histogram, observed without ``Histogram.observe``'s overhead."""

    __slots__ = ("_bounds", "_buckets", "_histogram", "_sum", "_sum_inc")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._sum_inc: Callable[[float], None] | None = None
        self._sum: MutexValue | None = None
        try:
            if type(histogram).observe is Histogram.observe:
                bounds, buckets = list(histogram._upper_bounds), list(histogram._buckets)
                if len(bounds) == len(buckets) and bounds[-1] == float("inf"):
                    self._bounds, self._buckets = bounds, buckets
                    self._sum_inc = histogram._sum.inc
                    if all(type(value) is MutexValue for value in [histogram._sum, *buckets]):
                        # One process (not multiprocess mode): each value is a float under its own
                        # lock, updated here as MutexValue.inc/set_exemplar do, without their calls.
                        self._sum = histogram._sum
        except AttributeError:  # a prometheus_client whose internals moved: observe() it is
            self._sum_inc = self._sum = None

    def observe(self, seconds: float, exemplar: dict[str, str] | None, now: float) -> None:
        """As ``Histogram.observe(seconds, exemplar)`` with the exemplar stamped ``now``.

        ``exemplar`` must be valid (prometheus_client's rules): it is not checked here.
        """
        total = self._sum
        if total is not None:
            with total._lock:
                total._value += seconds
            if seconds != seconds:  # NaN: observe() finds no bucket
                return
            value = self._buckets[bisect_left(self._bounds, seconds)]
            if exemplar:
                sample = (
                    _new_tuple(Exemplar, (exemplar, seconds, now))
                    if _EXEMPLAR_FIELDS_MATCH
                    else Exemplar(exemplar, seconds, now)
                )
                with value._lock:  # the count and its exemplar in one hold of the bucket's lock
                    value._value += 1
                    value._exemplar = sample
            else:
                with value._lock:
                    value._value += 1
            return
        sum_inc = self._sum_inc
        if sum_inc is None:
            self._histogram.observe(seconds, exemplar)
            return
        sum_inc(seconds)
        if seconds != seconds:  # NaN: observe() finds no bucket
            return
        # The first bucket whose bound is >= seconds, as observe's "amount <= bound" loop finds.
        bucket = self._buckets[bisect_left(self._bounds, seconds)]
        bucket.inc(1)
        if exemplar:
            bucket.set_exemplar(Exemplar(exemplar, seconds, now))


class ActiveChild:
    """One label set of the in-flight gauge.

    In one process the count is the length of a deque: ``inc`` appends, ``dec`` pops (C calls,
    atomic under the GIL) and the gauge reports ``len`` when it is collected (``set_function``).
    ``Gauge.inc``/``dec`` cost a Python call and a lock each, ~1k instructions a request apiece
    (acquiring a lock parses its arguments). In multiprocess mode the value lives in this worker's
    file, which the scraping worker reads: ``inc``/``dec`` go straight to it.
    """

    __slots__ = ("dec", "inc")

    def __init__(self, gauge: Gauge) -> None:
        value = getattr(gauge, "_value", None)
        methods_known = type(gauge).inc is Gauge.inc and type(gauge).dec is Gauge.dec
        if methods_known and type(value) is MutexValue and type(gauge).set_function is Gauge.set_function:
            in_flight: deque[None] = deque()
            self.inc: Callable[[], None] = partial(in_flight.append, None)
            self.dec: Callable[[], object] = in_flight.pop
            gauge.set_function(in_flight.__len__)
        elif methods_known and value is not None:
            self.inc = partial(value.inc, 1)
            self.dec = partial(value.inc, -1)
        else:
            self.inc, self.dec = gauge.inc, gauge.dec


__all__ = ["STAGES", "ActiveChild", "DurationChild", "HttpMetrics"]
