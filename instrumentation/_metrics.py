"""The contract's HTTP server metrics on a prometheus_client registry, with a per-label-set child cache.

``Histogram.labels()`` takes a lock and validates its arguments on every call; the label sets here
are few (method, route template, status) and known to be safe, so their children are kept in a
plain dict after the first request: one entry per (method, route, status), which counts the request
and observes the duration in the histogram of its method and route. The children (``DurationChild``, ``ActiveChild``) update their
values the cheap way where prometheus_client's internals are the checked ones: they live behind
``_internals``, the one module that reads other packages' private names.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from functools import partial

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from exporters.exemplars import ExemplarStore
from exporters.prometheus import multiprocess_dir
from obs.contract import (
    HTTP_SERVER_ACTIVE,
    HTTP_SERVER_DURATION,
    HTTP_SERVER_REQUESTS,
    INSTRUMENTATION_ERROR_STAGES,
    INSTRUMENTATION_ERRORS,
    TARGET_INFO,
    TRACE_SPAN_DROP_REASONS,
    TRACE_SPANS_DROPPED,
    TRACE_SPANS_EXPORTED,
)

from ._internals import DurationChild

#: Where an internal error was caught (the ``stage`` label of obs_instrumentation_errors_total).
STAGES: tuple[str, ...] = INSTRUMENTATION_ERROR_STAGES

_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, HttpMetrics] = weakref.WeakKeyDictionary()


class HttpMetrics:
    """The families one service emits; one instance per registry (``for_registry``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        d, a, e, t = HTTP_SERVER_DURATION, HTTP_SERVER_ACTIVE, INSTRUMENTATION_ERRORS, TARGET_INFO
        self.duration = Histogram(
            d.prometheus_client_name, d.help, list(d.labels), buckets=d.buckets, registry=registry
        )
        r = HTTP_SERVER_REQUESTS
        self.requests = Counter(r.prometheus_client_name, r.help, list(r.labels), registry=registry)
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
        self._bounds = (*d.buckets, float("inf"))
        # Several workers (multiprocess mode): exemplars kept beside prometheus_client's files.
        directory = multiprocess_dir()
        self.exemplars = ExemplarStore(directory) if directory else None
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
            labels = (method, route)
            child = self._durations[key] = DurationChild(
                self.duration.labels(*labels), self._bounds, self.requests.labels(method, route, str(status))
            )
            if self.exemplars is not None:
                child.exemplar_sink = partial(self.exemplars.record, labels)
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


class ActiveChild:
    """One label set of the in-flight gauge (public API only).

    In one process the count is the length of a deque: ``inc`` appends, ``dec`` pops (C calls,
    atomic under the GIL) and the gauge reports ``len`` when it is collected (``set_function``).
    ``Gauge.inc``/``dec`` cost a Python call and a lock each. In multiprocess mode the value lives
    in this worker's file, which the scraping worker reads: ``Gauge.inc``/``dec``."""

    __slots__ = ("dec", "inc")

    def __init__(self, gauge: Gauge) -> None:
        single_process = multiprocess_dir() is None
        methods_known = type(gauge).inc is Gauge.inc and type(gauge).dec is Gauge.dec
        if single_process and methods_known and type(gauge).set_function is Gauge.set_function:
            in_flight: deque[None] = deque()
            self.inc: Callable[[], None] = partial(in_flight.append, None)
            self.dec: Callable[[], object] = in_flight.pop
            gauge.set_function(in_flight.__len__)
        else:
            self.inc, self.dec = gauge.inc, gauge.dec


__all__ = ["STAGES", "ActiveChild", "DurationChild", "HttpMetrics"]
