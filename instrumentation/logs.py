"""JSON log lines with the contract's ECS fields, for access logs and the application's own records.

``JsonFormatter`` is public so that other handlers (the Fluentd forward handler in
``exporters/fluent.py``) write the same line; ``JsonFormatter.build_record`` returns the dict, so a
shipper can send the dict itself. Field names come from ``obs.contract.LOG_FIELDS``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import traceback
import weakref
from collections import deque
from json.encoder import encode_basestring
from math import trunc
from typing import Any, NamedTuple

from obs.contract import (
    ACCESS_LOGGER,
    ECS_VERSION,
    LOG_CLASS_FIELD,
    LOG_CLASSES,
    LOG_FIELD_INDEX,
    SPAN_ID_FIELD,
    TRACE_ID_FIELD,
)

from ._redaction import redact_text
from .log_filters import RepeatedWarningFilter

#: ``extra={"obs_dataset": "audit"}`` on a record files it under that log class.
DATASET_ATTR = "obs_dataset"
#: The record attribute that carries the request fields of an access line.
ACCESS_ATTR = "obs_http"
#: Set by the middleware on an exception that ended a request: (trace id, span id) of its span,
#: for the server's own record of it, written after the request's context is gone.
EXCEPTION_IDS_ATTR = "_obs_trace_ids"


def _field(name: str) -> str:
    # Fails at import if the contract renames a field: the build breaks, not the dashboards.
    return LOG_FIELD_INDEX[name].name


F_TIMESTAMP = _field("@timestamp")
F_LEVEL = _field("log.level")
F_LOGGER = _field("log.logger")
F_MESSAGE = _field("message")
F_ECS = _field("ecs.version")
F_DATASET = LOG_FIELD_INDEX[LOG_CLASS_FIELD].name
F_SERVICE = _field("service.name")
F_VERSION = _field("service.version")
F_ENVIRONMENT = _field("service.environment")
F_TRACE = LOG_FIELD_INDEX[TRACE_ID_FIELD].name
F_SPAN = LOG_FIELD_INDEX[SPAN_ID_FIELD].name
F_METHOD = _field("http.request.method")
F_ROUTE = _field("http.route")
F_STATUS = _field("http.response.status_code")
F_DURATION = _field("event.duration")
F_URL_PATH = _field("url.path")
F_ERROR_TYPE = _field("error.type")
F_ERROR_MESSAGE = _field("error.message")
F_STACK_TRACE = _field("error.stack_trace")

ACCESS, APPLICATION, AUDIT = LOG_CLASSES
#: Encoded access-line middles a formatter keeps (one per method, route and status seen).
ACCESS_MIDDLES_MAX = 4096


class AccessFields(NamedTuple):
    """What the middleware knows about a finished request (already normalized and redacted)."""

    method: str
    route: str
    status: int
    duration_ns: int
    url_path: str
    trace_id: str | None
    span_id: str | None
    error_type: str | None = None
    error_message: str | None = None


try:
    from opentelemetry.trace import get_current_span as _current_span
except ImportError:  # logs without the tracing extra: no ids, same lines
    _current_span = None  # type: ignore[assignment]


def _current_ids() -> tuple[str | None, str | None]:
    if _current_span is None:
        return None, None
    ctx = _current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return "%032x" % ctx.trace_id, "%016x" % ctx.span_id  # noqa: UP031 - see _span.sampled_ids


def _identity_from_env() -> tuple[str, str, str]:
    from ._settings import DEFAULT_ENVIRONMENT, DEFAULT_SERVICE_NAME, resolve_settings

    try:
        s = resolve_settings()
    except ValueError:  # a malformed variable must not stop logging
        return DEFAULT_SERVICE_NAME, "", DEFAULT_ENVIRONMENT
    return s.service_name, s.service_version, s.environment


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the contract's ECS field names.

    Built without arguments it takes the service identity from the environment (``OBS_*`` then
    ``OTEL_*``), so any handler can use it; ``instrument()`` passes the resolved settings.
    """

    def __init__(
        self,
        service_name: str | None = None,
        service_version: str | None = None,
        environment: str | None = None,
        *,
        dataset: str = APPLICATION,
    ) -> None:
        super().__init__()
        if dataset not in LOG_CLASSES:
            raise ValueError(f"dataset must be one of {LOG_CLASSES}, got {dataset!r}")
        if service_name is None or environment is None or service_version is None:
            env_name, env_version, env_environment = _identity_from_env()
            service_name = service_name if service_name is not None else env_name
            service_version = service_version if service_version is not None else env_version
            environment = environment if environment is not None else env_environment
        self.service_name = service_name
        self.service_version = service_version
        self.environment = environment
        self.dataset = dataset
        self._second = -1
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
        self._second_text = ""
        # The constant middle of every access line, encoded once (same keys, order and escaping as
        # encoding build_record's dict): only the request's own values are encoded per line.
        static = {
            F_LEVEL: "info", F_LOGGER: ACCESS_LOGGER, F_ECS: ECS_VERSION, F_DATASET: ACCESS,
            F_SERVICE: self.service_name, F_ENVIRONMENT: self.environment,
        }  # fmt: skip
        if self.service_version:
            static[F_VERSION] = self.service_version
        self._access_head = '{"%s":"' % F_TIMESTAMP  # noqa: UP031 - braces would need doubling
        self._access_level = f'",{_pair(F_LEVEL, "info")},{_pair(F_LOGGER, ACCESS_LOGGER)},{_key(F_MESSAGE)}'
        tail = [_pair(k, v) for k, v in static.items() if k not in (F_LEVEL, F_LOGGER)]
        self._access_static = "," + ",".join(tail) + ","
        self._k_method, self._k_route, self._k_status = _key(F_METHOD), _key(F_ROUTE), _key(F_STATUS)
        self._k_duration, self._k_path = _key(F_DURATION), _key(F_URL_PATH)
        self._k_error_type, self._k_error_message = _key(F_ERROR_TYPE), _key(F_ERROR_MESSAGE)
        self._k_trace, self._k_span = _key(F_TRACE), _key(F_SPAN)
        # (message, method, route, status) -> the line from the level to the duration's key, encoded.
        # Those four come from the contract's bounded label set; the size cap guards other callers.
        self._access_middles: dict[tuple[str | None, str, str, int], str] = {}

    def _timestamp(self, created: float) -> str:
        # int() as LogRecord truncates, by math.trunc: the same value for a float, half the cost
        # of calling the int type (callgrind: 1.3k instructions against 0.6k).
        second = trunc(created)
        if second != self._second:  # strftime is the costly part; it changes once a second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        # LogRecord.msecs' milliseconds; a table lookup costs less than a ':03d' format spec.
        ms = trunc((created - second) * 1000)
        return f"{self._second_text}{_MILLIS[ms] if 0 <= ms < 1000 else f'{ms:03d}'}Z"

    def build_record(self, record: logging.LogRecord) -> dict[str, Any]:
        """The dict the JSON line holds (for shippers that send the dict rather than the line)."""
        access: AccessFields | None = getattr(record, ACCESS_ATTR, None)
        out: dict[str, Any] = {
            F_TIMESTAMP: self._timestamp(record.created),
            F_LEVEL: record.levelname.lower(),
            F_LOGGER: record.name,
            # Access messages are built from normalized values only; anything else may carry data.
            F_MESSAGE: record.msg if access is not None else redact_text(record.getMessage()),
            F_ECS: ECS_VERSION,
            F_DATASET: ACCESS if access is not None else getattr(record, DATASET_ATTR, self.dataset),
            F_SERVICE: self.service_name,
            F_ENVIRONMENT: self.environment,
        }
        if self.service_version:
            out[F_VERSION] = self.service_version
        if access is not None:
            trace_id, span_id = access.trace_id, access.span_id
            out[F_METHOD] = access.method
            out[F_ROUTE] = access.route
            out[F_STATUS] = access.status
            out[F_DURATION] = access.duration_ns
            out[F_URL_PATH] = access.url_path
            if access.error_type is not None:
                out[F_ERROR_TYPE] = access.error_type
                out[F_ERROR_MESSAGE] = access.error_message or ""
        else:
            trace_id, span_id = _current_ids()
            if trace_id is None and record.exc_info and record.exc_info[1] is not None:
                ids = getattr(record.exc_info[1], EXCEPTION_IDS_ATTR, None)
                if type(ids) is tuple and len(ids) == 2:
                    trace_id, span_id = ids
        if trace_id is not None:
            out[F_TRACE] = trace_id
            out[F_SPAN] = span_id
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out[F_ERROR_TYPE] = type(exc).__qualname__
            out[F_ERROR_MESSAGE] = redact_text(str(exc))
            # The formatted trace ends with the message and quotes source lines: redacted as a whole.
            out[F_STACK_TRACE] = redact_text("".join(traceback.format_exception(exc)))
        return out

    def format(self, record: logging.LogRecord) -> str:
        access: AccessFields | None = getattr(record, ACCESS_ATTR, None)
        if (
            access is not None
            and type(self).build_record is JsonFormatter.build_record
            and record.levelno == logging.INFO
            and record.name == ACCESS_LOGGER
            and not record.exc_info
            and type(access.status) is int
            and type(access.duration_ns) is int
        ):
            return self.format_access(record.created, record.msg, access)
        # One encoder per formatter: json.dumps with non-default arguments builds a new encoder on
        # every call, which costs more than encoding the line (measured: 14 µs against 7.5 µs).
        return self._encoder.encode(self.build_record(record))

    def format_access(self, created: float, message: str | None, access: AccessFields, end: str = "") -> str:
        """The access line of a record created at ``created`` (``time.time()``) with ``message``
        (None: ``access_message(access)``), followed by ``end``: text-identical to encoding
        ``build_record``'s dict. An access line is most of a service's log volume: joining
        pre-encoded keys and constants costs 2 µs where the generic encoder costs 9 µs. One f-string
        makes the line (callgrind: 16.5k instructions a line when it was appended to part by part, 14.0k).
        """
        method, route, status, duration_ns, url_path, trace_id, span_id, error_type, error_message = access
        key = (message, method, route, status)
        middle = self._access_middles.get(key)
        if middle is None:
            middle = self._access_middle(message if message is not None else access_message(access), access)
            if len(self._access_middles) < ACCESS_MIDDLES_MAX:
                self._access_middles[key] = middle
        ids = (
            f",{self._k_trace}{encode_basestring(trace_id)},"
            f"{self._k_span}{encode_basestring(span_id) if span_id is not None else 'null'}"
            if trace_id is not None
            else ""
        )
        error = (
            f",{self._k_error_type}{encode_basestring(error_type)},"
            f"{self._k_error_message}{encode_basestring(error_message or '')}"
            if error_type is not None
            else ""
        )
        # One f-string for the line: appending the parts copies it once per part.
        return (
            f"{self._access_head}{self._timestamp(created)}{middle}{duration_ns},"
            f"{self._k_path}{encode_basestring(url_path)}{error}{ids}}}{end}"
        )

    def _access_middle(self, message: str, access: AccessFields) -> str:
        return (
            f"{self._access_level}{encode_basestring(message)}{self._access_static}{self._k_method}"
            f"{encode_basestring(access.method)},{self._k_route}{encode_basestring(access.route)},"
            f"{self._k_status}{access.status},{self._k_duration}"
        )


#: "000" to "999", a timestamp's milliseconds by their value.
_MILLIS = tuple(f"{ms:03d}" for ms in range(1000))


_DIRECT_HANDLERS = (logging.StreamHandler, logging.FileHandler)
_INFO = logging.INFO
_LogRecord = logging.LogRecord


def access_message(access: AccessFields) -> str:
    """The message of an access line: ``METHOD ROUTE STATUS``, normalized values only."""
    return f"{access.method} {access.route} {access.status}"


def write_access_line(
    logger: logging.Logger, message: str | None, access: AccessFields, created: float | None = None
) -> bool:
    """Write an access line straight to the handlers, as ``logger.info`` would; False if it cannot.

    Under a real server the standard path (a ``LogRecord`` with ~20 attributes, then
    ``Logger.handle`` → ``callHandlers`` → ``Handler.handle`` → ``emit`` → ``format``) is most of
    what the access log costs a request. When the handlers that would receive the line are plain
    ``StreamHandler``/``FileHandler`` with this module's ``JsonFormatter`` and nothing can observe
    the record itself (no filters on the logger or the handlers, the default record factory), the
    same line is written to the same streams under the same handler locks without the record.
    Anything else (another handler or formatter type, a filter, no handler at all) returns False
    and the caller goes the standard way. The caller has checked ``isEnabledFor(INFO)``.
    ``created`` is the line's time (``time.time()`` when not given), the request's end for access lines.
    ``message`` None stands for ``access_message(access)``, made only if a line needs it.
    """
    targets = direct_targets(logger)
    if targets is None:
        return False
    _write_lines(logger, targets, [(time.time() if created is None else created, access)], message)
    return True


def direct_targets(logger: logging.Logger) -> list[logging.StreamHandler[Any]] | None:
    """The handlers an INFO line of ``logger`` reaches, when ``write_access_line`` may write to them
    directly (see there); None when the standard path must be taken (or no handler would take it)."""
    if logger.disabled or logger.filters or logging.getLogRecordFactory() is not _LogRecord:
        return None
    targets: list[logging.StreamHandler[Any]] = []
    current: logging.Logger | None = logger
    while current is not None:  # the walk callHandlers does
        for handler in current.handlers:
            if handler.level > _INFO:
                continue
            if (
                type(handler) not in _DIRECT_HANDLERS
                or (handler.filters and not _only_repeat_filters(handler.filters))
                or type(handler.formatter) is not JsonFormatter
                or handler.stream is None  # type: ignore[attr-defined]  # both types set it
            ):
                return None
            targets.append(handler)  # type: ignore[arg-type]
        current = current.parent if current.propagate else None
    return targets or None  # none: logging.lastResort's business


def _only_repeat_filters(filters: list[Any]) -> bool:
    # RepeatedWarningFilter passes every INFO record untouched: an access line may skip it.
    return all(type(f) is RepeatedWarningFilter for f in filters)


def access_record(
    logger: logging.Logger, message: str | None, access: AccessFields, created: float
) -> logging.LogRecord:
    """The ``LogRecord`` of an access line made at ``created``: what the standard path handles."""
    record = logger.makeRecord(
        logger.name, _INFO, __file__, 0, message if message is not None else access_message(access), (), None
    )
    # relativeCreated is counted from logging's start time: moved by as much as created is.
    record.relativeCreated += (created - record.created) * 1000
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord.__init__ computes both
    setattr(record, ACCESS_ATTR, access)
    return record


#: Bytes one ``write()`` keeps whole on a pipe (POSIX ``PIPE_BUF``, 4,096 on Linux). Several workers
#: of one server share its stdout; a longer write can be split and interleaved with another
#: worker's, which breaks both lines. A batch of access lines is written in pieces up to this size.
PIPE_BUF = 4096
#: Access lines a buffer holds before it writes them, whatever its interval (256 read 0.862 of bare
#: against 0.851 for 64 in a 20-round side-by-side Flask run; ~100 KB of lines at most).
ACCESS_BUFFER_LINES = 256


class AccessLineBuffer:
    """Access lines of one logger, held up to ``interval`` seconds or ``max_lines`` lines, then
    formatted and written together: ``instrument(access_log_flush_interval=...)``.

    Why: in a real server, formatting and writing a line on the request's own path is cold work
    (the formatter's code and data were evicted since the last request); done for many lines at
    once it is warm. For about the same instructions, the Flask server benchmark went from 0.81 to
    0.83 of bare with two servers sharing a core and from 0.82 to 0.88 with six, FastAPI from 0.81
    to 0.86. Envoy's file access log is buffered the same way (flushed every 10 s by default),
    nginx's with ``access_log ... buffer= flush=``.

    What it keeps: the lines, byte for byte, in request order (per buffer), with the request's end
    as their timestamp. A failed request's line (5xx, or an exception) is written at once, with the
    lines before it: the ones an on-call engineer reads first are never held. Held lines are
    written by a daemon thread every ``interval``, when ``max_lines`` are held, by ``flush()``
    (``uninstrument`` calls it), and at interpreter exit; a forked child drops the parent's held
    lines (the parent writes them). A process killed outright (SIGKILL) loses at most ``interval``
    seconds of access lines; application log records are never held.
    Lines are held only while the handlers can be written directly (``direct_targets``, rechecked
    after every write and every interval); otherwise ``add`` says so and the caller writes the line
    the standard way at once. Should logging change between ``add`` and the write, the held lines
    go the standard way (``Logger.handle``) in the writing thread.
    """

    def __init__(self, logger: logging.Logger, interval: float, max_lines: int = ACCESS_BUFFER_LINES) -> None:
        if not interval > 0:
            raise ValueError(f"access_log_flush_interval must be > 0 seconds to buffer, got {interval}")
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines}")
        self.logger = logger
        self.interval = interval
        self.max_lines = max_lines
        self._pending: deque[tuple[float, AccessFields]] = deque()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        #: Whether the handlers may be written directly; None: not known since the last write.
        self._direct: bool | None = None
        _BUFFERS.add(self)
        # A buffer dropped with lines held (its app discarded without uninstrument) writes them.
        finalizer = weakref.finalize(self, _write_dropped, logger, self._pending)
        finalizer.atexit = False  # at exit, flush_access_logs writes them
        self._start_thread()

    def add(self, access: AccessFields, created: float) -> bool:
        """Hold the line of ``access`` ended at ``created``; False when the caller must write it now,
        because the logger's handlers cannot be written directly (see ``direct_targets``): then
        filters and handlers see the line on the request's own thread, as without a buffer.
        The request's path, so it is cheap: the handler walk is redone once per write or interval.
        """
        direct = self._direct
        if direct is None:
            direct = self._direct = direct_targets(self.logger) is not None
        if not direct:
            return False
        pending = self._pending
        pending.append((created, access))
        if len(pending) >= self.max_lines or access.status >= 500 or access.error_type is not None:
            self.flush()
            return True
        try:
            # The interval holds without the thread too (uWSGI without --enable-threads never runs
            # it): a request that finds the oldest held line due writes the batch.
            due = created - pending[0][0] >= self.interval
        except IndexError:  # another thread wrote them meanwhile
            return True
        if due:
            self.flush()
        return True

    def flush(self) -> None:
        """Write every held line now (in order, one writer at a time). Never raises."""
        self._direct = None  # logging may have been reconfigured: walk the handlers again
        if not self._pending:
            return
        with self._write_lock:
            pending = self._pending
            items = [pending.popleft() for _ in range(len(pending))]  # appended meanwhile: next time
            if items:
                try:
                    _write_access_lines(self.logger, items)
                except Exception:  # a handler's own errors are reported by handleError already
                    logging.getLogger("obs.instrumentation").debug("access lines lost", exc_info=True)

    def close(self) -> None:
        """Write what is held and stop the thread; lines added later are written at once."""
        self._closed = True
        self._stop.set()
        self.flush()
        self.max_lines = 1

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=_flush_every, args=(weakref.ref(self), self._stop, self.interval),
            name="obs-access-log", daemon=True,
        )  # fmt: skip
        thread.start()

    def _after_fork_in_child(self) -> None:
        self._pending.clear()  # the parent's lines: the parent writes them
        self._write_lock = threading.Lock()  # another thread may have held it at the fork
        if not self._closed:
            self._stop = threading.Event()
            self._start_thread()


def _flush_every(
    ref: weakref.ReferenceType[AccessLineBuffer], stop: threading.Event, interval: float
) -> None:
    # Holds the buffer only while flushing it: a dropped buffer ends the thread at the next tick.
    while not stop.wait(interval):
        buffer = ref()
        if buffer is None:
            return
        buffer.flush()
        del buffer


def _write_dropped(logger: logging.Logger, pending: deque[tuple[float, AccessFields]]) -> None:
    if pending:
        _write_access_lines(logger, list(pending))


def _write_access_lines(logger: logging.Logger, items: list[tuple[float, AccessFields]]) -> None:
    targets = direct_targets(logger)
    if targets is None:
        if logger.disabled:
            return
        for created, access in items:
            logger.handle(access_record(logger, None, access, created))
        return
    _write_lines(logger, targets, items, None)


def _write_lines(
    logger: logging.Logger,
    targets: list[logging.StreamHandler[Any]],
    items: list[tuple[float, AccessFields]],
    message: str | None,
) -> None:
    """What ``StreamHandler.emit`` and ``flush`` do for these lines (the handlers are exact stdlib
    types here), under one hold of each handler's lock, in writes of at most ``PIPE_BUF`` bytes.
    A failed write is reported by the handler (stderr by default) and never raised."""
    for handler in targets:
        formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
        terminator = handler.terminator
        lines = [formatter.format_access(created, message, access, terminator) for created, access in items]
        lock = handler.lock
        if lock is not None:
            lock.acquire()
        try:
            stream = handler.stream
            flush = getattr(stream, "flush", None)
            for piece in _pieces(lines):
                stream.write(piece)
                if flush is not None:
                    flush()
        except RecursionError:
            raise
        except Exception:
            created, access = items[0]
            handler.handleError(access_record(logger, message, access, created))
        finally:
            if lock is not None:
                lock.release()


def _pieces(lines: list[str]) -> list[str]:
    """``lines`` joined into writes of at most ``PIPE_BUF`` bytes (a longer line is a write of its own)."""
    if len(lines) == 1:  # each line at once (no buffer): one write, nothing to measure
        return lines
    pieces: list[str] = []
    piece: list[str] = []
    size = 0
    for line in lines:
        length = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
        if piece and size + length > PIPE_BUF:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(line)
        size += length
    if piece:
        pieces.append("".join(piece))
    return pieces


#: Live buffers: flushed at exit, reset in a forked child.
_BUFFERS: weakref.WeakSet[AccessLineBuffer] = weakref.WeakSet()


def flush_access_logs() -> None:
    """Write the access lines every buffer of this process holds (tests, or before an exit of your own)."""
    for buffer in list(_BUFFERS):
        buffer.flush()


def _after_fork_in_child() -> None:
    for buffer in list(_BUFFERS):
        buffer._after_fork_in_child()


# Registered after logging's own exit hook, so run before it: the handlers are still open.
atexit.register(flush_access_logs)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _key(name: str) -> str:
    return encode_basestring(name) + ":"


def _pair(name: str, value: str) -> str:
    return _key(name) + encode_basestring(value)


def build_record(record: logging.LogRecord, formatter: JsonFormatter | None = None) -> dict[str, Any]:
    """The contract dict for ``record`` (identity from the environment unless a formatter is given)."""
    return (formatter or _default_formatter()).build_record(record)


_DEFAULT: JsonFormatter | None = None


def _default_formatter() -> JsonFormatter:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = JsonFormatter()
    return _DEFAULT


__all__ = [
    "ACCESS_BUFFER_LINES",
    "ACCESS_LOGGER",
    "PIPE_BUF",
    "AccessFields",
    "AccessLineBuffer",
    "EXCEPTION_IDS_ATTR",
    "JsonFormatter",
    "access_message",
    "access_record",
    "build_record",
    "direct_targets",
    "flush_access_logs",
    "write_access_line",
]
