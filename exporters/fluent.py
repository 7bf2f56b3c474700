"""Ship log records to Fluentd over the Forward protocol without ever blocking a request.

:class:`FluentForwardHandler` is a :class:`logging.Handler`. ``emit`` builds the record dict in the
caller's thread (where the active span is, so ``trace.id`` is right), then hands it to a bounded
queue with ``put_nowait``. A background thread batches records per tag and sends them in Forward
mode with ``chunk`` acknowledgements (at-least-once: a batch is resent until Fluentd confirms it).

When the queue is full, because Fluentd is down or slow, new records are dropped and counted in
``obs_log_records_dropped_total{sink="fluentd"}`` (:data:`obs.contract.LOG_RECORDS_DROPPED`).
A request never waits for the log pipeline. ``close()`` flushes what is queued within a deadline
and counts what it could not send.

The Forward protocol (v1): ``[tag, [[time, record], ...], {"chunk": id, "size": n}]`` in msgpack,
time as EventTime (ext type 0: seconds and nanoseconds, big-endian uint32 each), answer
``{"ack": id}``. The record dict is the one the JSON formatter writes, so Fluentd's pipeline sees
exactly the fields of a JSON log line.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import queue
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgpack

from obs import contract

SINK = "fluentd"
DEFAULT_TAG_PREFIX = "obs"
EVENT_TIME_EXT = 0

RecordBuilder = Callable[[logging.LogRecord], Mapping[str, Any]]


class DropCounter(Protocol):
    """What the handler needs of a counter: ``labels(sink=...).inc(n)`` (prometheus_client's shape)."""

    def labels(self, *args: str, **kwargs: str) -> Any: ...


#: The counter made on each registry (weakly held): a second handler shares the first one's.
_COUNTERS: weakref.WeakKeyDictionary[Any, DropCounter] = weakref.WeakKeyDictionary()
_COUNTERS_LOCK = threading.Lock()


def dropped_counter(registry: Any = None) -> DropCounter:
    """``obs_log_records_dropped_total`` on ``registry`` (default: prometheus_client's global one),
    created once and shared by every handler. Registered by other code first, the counter cannot
    be reached through prometheus_client's public API: drops are then counted on a counter of
    this process's own, and said once."""
    from prometheus_client import REGISTRY, Counter

    target = registry if registry is not None else REGISTRY
    metric = contract.LOG_RECORDS_DROPPED
    with _COUNTERS_LOCK:
        counter = _COUNTERS.get(target)
        if counter is None:
            try:
                counter = Counter(metric.prometheus_client_name, metric.help, list(metric.labels), registry=target)
            except ValueError:
                logging.getLogger("obs.exporters").warning(
                    "%s is registered by other code: this handler's drops are not on that registry", metric.name
                )
                counter = Counter(metric.prometheus_client_name, metric.help, list(metric.labels), registry=None)
            _COUNTERS[target] = counter
    return counter


def _default_counter() -> DropCounter | None:
    """The global registry's counter when prometheus_client is installed: drops are visible on the
    service's /metrics without any wiring."""
    try:
        return dropped_counter()
    except ImportError:
        return None


def event_time(seconds: float) -> msgpack.ExtType:
    """Forward protocol EventTime: nanosecond precision, which Fluentd keeps end to end."""
    sec = int(seconds)
    nsec = round((seconds - sec) * 1e9)
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return msgpack.ExtType(EVENT_TIME_EXT, struct.pack(">II", sec, nsec))


def _default_builder(handler: logging.Handler) -> RecordBuilder:
    """The record dict the JSON formatter writes.

    With the instrumentation's ``JsonFormatter`` that is its ``build_record`` (the dict its JSON
    line holds, without a round trip through text). Any other JSON formatter's line is read back.
    """

    def from_formatter(record: logging.LogRecord) -> Mapping[str, Any]:
        build = getattr(handler.formatter, "build_record", None)
        if callable(build):
            built: Mapping[str, Any] = build(record)
            return built
        data: Mapping[str, Any] = json.loads(handler.format(record))
        return data

    return from_formatter


def forward_tag(data: Mapping[str, Any], prefix: str = DEFAULT_TAG_PREFIX) -> str:
    """``<prefix>.<service.name>.<event.dataset>``: Fluentd can route per service and log class
    without opening the record."""
    service = str(data.get("service.name") or "unknown")
    log_class = str(data.get(contract.LOG_CLASS_FIELD) or "application")
    return f"{prefix}.{service}.{log_class}"


def instrumentation_formatter() -> logging.Formatter | None:
    """The instrumentation's ``JsonFormatter`` when that package is installed, else None.

    Imported lazily and by name: ``exporters`` must not require the instrumentation (a service may
    ship logs without it) and the instrumentation must not import this module.
    """
    try:
        module = importlib.import_module("instrumentation.logs")
        formatter = module.JsonFormatter()
    except (ImportError, AttributeError, TypeError):
        return None
    return formatter if isinstance(formatter, logging.Formatter) else None


def contract_record(record: logging.LogRecord, service_name: str, environment: str, log_class: str = "application") -> dict[str, Any]:
    """The contract's required fields for ``record`` (used when no JSON formatter is installed)."""
    created = time.gmtime(record.created)
    millis = int(record.created * 1000) % 1000
    out: dict[str, Any] = {
        "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{millis:03d}Z",
        "log.level": record.levelname.lower(),
        "log.logger": record.name,
        "message": contract.redact(record.getMessage()),
        "ecs.version": contract.ECS_VERSION,
        contract.LOG_CLASS_FIELD: log_class,
        "service.name": service_name,
        "service.environment": environment,
    }
    missing = [f.name for f in contract.LOG_FIELDS if f.required and f.name not in out]
    if missing:
        raise AssertionError(f"contract requires fields this builder does not set: {missing}")
    return out


class FluentForwardHandler(logging.Handler):
    """A logging handler that ships records to Fluentd's ``in_forward`` and never blocks.

    ``capacity`` bounds the queue (records, not bytes); ``batch_size`` bounds one Forward message;
    ``ack_timeout`` is how long a batch waits for Fluentd's ack before it is resent.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 24224,
        *,
        tag_prefix: str = DEFAULT_TAG_PREFIX,
        build_record: RecordBuilder | None = None,
        capacity: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.2,
        connect_timeout: float = 2.0,
        ack_timeout: float = 5.0,
        close_timeout: float = 5.0,
        counter: DropCounter | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        self.address = (host, port)
        self.tag_prefix = tag_prefix
        self.build_record = build_record or _default_builder(self)
        if build_record is None:
            # Without a builder the record is whatever the JSON formatter writes; default to the
            # instrumentation's so the shipped dict is the JSON line, field for field.
            default = instrumentation_formatter()
            if default is not None:
                self.setFormatter(default)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.close_timeout = close_timeout
        self.counter = counter if counter is not None else _default_counter()
        self.dropped = 0
        self.sent = 0
        self._capacity = capacity
        self._start()
        # A pre-fork server (gunicorn --preload) forks after this handler exists: threads do not
        # survive a fork, so each child starts its own sender (weakly held: no leak via the hook).
        restart = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := restart()) is not None and m())

    def _start(self) -> None:
        # None is the wake-up close() sends so the sender need not wait out flush_interval.
        self._queue: queue.Queue[tuple[str, float, Mapping[str, Any]] | None] = queue.Queue(maxsize=self._capacity)
        self._stats_lock = threading.Lock()
        self._closing = threading.Event()
        self._deadline = 0.0  # set by close(): when queued records stop being retried
        self._idle = threading.Condition()
        self._pending = 0
        self._sock: socket.socket | None = None
        self._unpacker = msgpack.Unpacker(raw=False)
        self._thread = threading.Thread(target=self._run, name="obs-fluent-forward", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, queue and sender. Records queued before the fork stay
        the parent's to send (copying them would ship them twice); the parent's socket is left to it."""
        if self._closing.is_set():
            return
        self.createLock()
        self.dropped = 0
        self.sent = 0
        self._start()

    # --- caller side (must stay cheap and never block) ----------------------------------------

    def tag_for(self, data: Mapping[str, Any]) -> str:
        return forward_tag(data, self.tag_prefix)

    def emit(self, record: logging.LogRecord) -> None:
        if self._closing.is_set():
            self._drop(1)
            return
        try:
            data = self.build_record(record)
            item = (self.tag_for(data), record.created, data)
        except Exception:
            self._drop(1)
            self.handleError(record)
            return
        with self._stats_lock:
            self._pending += 1
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._settle(1)
            self._drop(1)

    def _settle(self, n: int) -> None:
        """``n`` records left the handler (sent or dropped): wake anyone waiting in flush()."""
        with self._stats_lock:
            self._pending -= n
        with self._idle:
            self._idle.notify_all()

    def _drop(self, n: int) -> None:
        if n <= 0:
            return
        with self._stats_lock:
            self.dropped += n
        if self.counter is not None:
            # A broken metric must not break logging.
            with contextlib.suppress(Exception):
                self.counter.labels(sink=SINK).inc(n)

    # --- sender thread --------------------------------------------------------------------------

    def _next_batch(self) -> list[tuple[str, float, Mapping[str, Any]]]:
        try:
            # Closing: take what is there and finish; the wake-up may already have been consumed.
            first = self._queue.get_nowait() if self._closing.is_set() else self._queue.get(timeout=self.flush_interval)
        except queue.Empty:
            return []
        batch = [] if first is None else [first]
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                if self._closing.is_set():
                    break
                continue
            try:
                self._deliver(batch)
            except Exception:
                # The sender must outlive any surprise: the batch is lost, but counted.
                self._drop(len(batch))
            self._settle(len(batch))
            if self._past_deadline():
                break
        self._disconnect()
        with self._idle:
            self._idle.notify_all()

    def _past_deadline(self) -> bool:
        return self._closing.is_set() and time.monotonic() >= self._deadline

    def _deliver(self, batch: list[tuple[str, float, Mapping[str, Any]]]) -> None:
        """Send ``batch`` until acknowledged; once close() has started, give up at its deadline."""
        attempt = 0
        while not self._send(batch):
            attempt += 1
            if self._past_deadline():
                self._drop(len(batch))
                return
            # Back off; close() wakes the wait so its deadline is not spent sleeping.
            pause = 0.05 * 2 ** min(attempt, 6)
            if self._closing.is_set():
                time.sleep(min(pause, 0.2, max(self._deadline - time.monotonic(), 0)))
            else:
                self._closing.wait(min(pause, 2.0))

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
            sock.settimeout(self.ack_timeout)
            self._sock = sock
            self._unpacker = msgpack.Unpacker(raw=False)
        return self._sock

    def _disconnect(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _send(self, batch: list[tuple[str, float, Mapping[str, Any]]]) -> bool:
        """Send ``batch`` (one Forward message per tag) and wait for every ack."""
        by_tag: dict[str, list[list[Any]]] = {}
        for tag, created, data in batch:
            by_tag.setdefault(tag, []).append([event_time(created), dict(data)])
        try:
            sock = self._connect()
            for tag, entries in by_tag.items():
                chunk = base64.b64encode(os.urandom(16)).decode()
                sock.sendall(msgpack.packb([tag, entries, {"chunk": chunk, "size": len(entries)}], use_bin_type=True))
                if not self._await_ack(sock, chunk):
                    self._disconnect()
                    return False
        except (OSError, ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            self._disconnect()
            return False
        with self._stats_lock:
            self.sent += len(batch)
        return True

    def _await_ack(self, sock: socket.socket, chunk: str) -> bool:
        while True:
            for reply in self._unpacker:
                if isinstance(reply, dict) and reply.get("ack") == chunk:
                    return True
            data = sock.recv(4096)
            if not data:
                return False
            self._unpacker.feed(data)

    # --- lifecycle ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait (at most ``close_timeout``) until every record emitted so far is sent or dropped."""
        self.wait_settled(self.close_timeout)

    def wait_settled(self, timeout: float) -> bool:
        """Whether every record emitted so far was acknowledged or dropped within ``timeout``."""
        end = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0 and self._thread.is_alive():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return self._pending <= 0

    def close(self) -> None:
        """Send what is queued within ``close_timeout``; count the rest as dropped."""
        if not self._closing.is_set():
            self._deadline = time.monotonic() + self.close_timeout
            self._closing.set()
            with contextlib.suppress(queue.Full):  # when full, the sender is busy and sees _closing anyway
                self._queue.put_nowait(None)
            self._thread.join(self.close_timeout + self.ack_timeout + 1.0)
            leftover = 0
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                leftover += item is not None
            self._settle(leftover)
            self._drop(leftover)
        super().close()


__all__ = [
    "SINK",
    "DropCounter",
    "FluentForwardHandler",
    "contract_record",
    "dropped_counter",
    "event_time",
    "forward_tag",
    "instrumentation_formatter",
]
