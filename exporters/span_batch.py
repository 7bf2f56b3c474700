"""A bounded batch span processor that counts what it exports and what it drops.

The SDK's ``BatchSpanProcessor`` drops spans silently when its queue is full (a collector down or
slow), and its count of them is reachable only through private attributes. This one does the same
work through the public ``SpanProcessor``/``SpanExporter`` interfaces and counts every span it
handles: exported, or dropped with a reason (``obs.contract.TRACE_SPAN_DROP_REASONS``), into
``obs_trace_spans_exported_total`` and ``obs_trace_spans_dropped_total{reason}`` once
``count_into`` gives it those counters (counts made before are carried over).

- ``on_end`` (the request's thread) appends to a ``deque`` of at most ``max_queue_size`` spans, the
  oldest dropped when it is full, and wakes the exporting thread at a full batch: no lock, no
  system call.
- One daemon thread exports batches of at most ``max_export_batch_size`` every
  ``schedule_delay_millis`` or at a full batch; ``force_flush`` and ``shutdown`` export what is
  queued, bounded by their timeout. One export runs at a time (exporters are not thread-safe).
- A forked child (gunicorn) starts with an empty queue and its own thread; the parent exports what
  it had queued.
- A dropped span is logged once per cause and minute, not once per span.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_log = logging.getLogger("obs.exporters.spans")
#: Seconds between two log lines about the same cause of dropped spans.
DROP_LOG_INTERVAL = 60.0


class SpanCounts:
    """Spans exported and dropped (by reason) since start, and the counters they are mirrored to."""

    def __init__(self) -> None:
        self.exported = 0
        self.dropped: dict[str, int] = {}
        self._lock = threading.Lock()
        self._exported_counter: Any = None
        self._dropped_counter: Any = None
        self._logged: dict[str, float] = {}

    def count_into(self, exported: Any, dropped: Any) -> None:
        """Mirror the counts into prometheus_client counters (``exported.inc(n)``,
        ``dropped.labels(reason).inc(n)``), starting with what was counted so far."""
        with self._lock:
            self._exported_counter, self._dropped_counter = exported, dropped
            if self.exported:
                exported.inc(self.exported)
            for reason, n in self.dropped.items():
                dropped.labels(reason).inc(n)

    def add_exported(self, n: int) -> None:
        with self._lock:
            self.exported += n
            counter = self._exported_counter
        if counter is not None:
            _quietly(counter.inc, n)

    def add_dropped(self, reason: str, n: int, why: str) -> None:
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + n
            counter = self._dropped_counter
            now = time.monotonic()
            last = self._logged.get(reason)
            log = last is None or now - last >= DROP_LOG_INTERVAL
            if log:
                self._logged[reason] = now
        if counter is not None:
            _quietly(lambda: counter.labels(reason).inc(n))
        if log:
            # The reason is part of the format string: one cause per reason for log rate limits.
            _log.warning(
                f"trace spans dropped ({reason}): %s; counted in "
                f'obs_trace_spans_dropped_total{{reason="{reason}"}}, logged once a minute',
                why,
            )


def _quietly(call: Any, *args: Any) -> None:
    with contextlib.suppress(Exception):  # a metric must never break the export thread or a request
        call(*args)


class CountingBatchSpanProcessor(SpanProcessor):
    """Sampled spans to ``exporter`` in batches from a bounded queue, every span counted."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_millis: float = 1000,
        export_timeout_millis: float = 10_000,
        counts: SpanCounts | None = None,
    ) -> None:
        if max_queue_size < 1 or max_export_batch_size < 1:
            raise ValueError("max_queue_size and max_export_batch_size must be at least 1")
        if schedule_delay_millis <= 0 or export_timeout_millis <= 0:
            raise ValueError("schedule_delay_millis and export_timeout_millis must be positive")
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_export_batch_size = min(max_export_batch_size, max_queue_size)
        self.schedule_delay = schedule_delay_millis / 1000
        self.export_timeout = export_timeout_millis / 1000
        self.counts = counts if counts is not None else SpanCounts()
        self._shutdown = False
        self._start()
        ref = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: (m := ref()) is not None and m())

    def _start(self) -> None:
        self._queue: deque[ReadableSpan] = deque(maxlen=self.max_queue_size)
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="obs-span-export", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        if not self._shutdown:
            self._start()  # the parent's queued spans are the parent's to export

    # --- the request's thread --------------------------------------------------------------------

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        self.enqueue(span)

    def enqueue(self, span: ReadableSpan) -> None:
        """``on_end`` for a span known to be sampled (the instrumentation's server spans, when this
        is their provider's only processor, end straight into it)."""
        if self._shutdown:
            self.counts.add_dropped("shutdown", 1, "a span ended after the processor was shut down")
            return
        queue = self._queue
        if len(queue) >= self.max_queue_size:  # the append below drops the oldest
            self.counts.add_dropped(
                "queue_full", 1, f"the export queue holds {self.max_queue_size} spans (collector down or slow)"
            )
        queue.append(span)
        if len(queue) >= self.max_export_batch_size and not self._wake.is_set():
            self._wake.set()

    # --- the exporting thread --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._shutdown:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            if self._shutdown:
                return
            self._export_queued(time.monotonic() + self.export_timeout)

    def _export_queued(self, deadline: float) -> bool:
        """Export what is queued now, batch by batch, until ``deadline``; whether all of it went."""
        with self._export_lock:
            while self._queue:
                if time.monotonic() >= deadline:
                    return False
                self._export_batch()
        return True

    def _export_batch(self) -> None:
        queue = self._queue
        batch: list[ReadableSpan] = []
        try:
            while len(batch) < self.max_export_batch_size:
                batch.append(queue.popleft())
        except IndexError:
            pass
        if not batch:
            return
        try:
            result = self.exporter.export(batch)
        except Exception:
            _log.debug("span export raised", exc_info=True)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.counts.add_exported(len(batch))
        else:
            self.counts.add_dropped("export_failed", len(batch), f"the exporter could not deliver {len(batch)} spans")

    # --- lifecycle ------------------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued now (at most ``timeout_millis``); whether it all went."""
        return self._export_queued(time.monotonic() + timeout_millis / 1000)

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        self._thread.join(self.export_timeout)
        self._export_queued(time.monotonic() + self.export_timeout)
        self.exporter.shutdown()

    @property
    def queued(self) -> int:
        """Spans waiting to be exported."""
        return len(self._queue)


__all__ = ["DROP_LOG_INTERVAL", "CountingBatchSpanProcessor", "SpanCounts"]
