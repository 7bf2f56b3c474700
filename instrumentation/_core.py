"""What happens around one request, shared by the ASGI middleware and the WSGI wrapper.

Everything that can be decided once is decided in ``Telemetry.__init__``; ``begin``/``finish`` do
only per-request work. One clock (``time.time_ns``) gives the span's start and end and the
histogram's duration, so a request costs two clock reads, not four. Every step is wrapped: an
error inside the instrumentation is counted in ``obs_instrumentation_errors_total{stage}`` and the
request goes on.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.context import attach, detach, get_current
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.util.types import AttributeValue

from obs.contract import KNOWN_METHODS, REDACTED, UNMATCHED_ROUTE, normalize_method

from ._internals import LeanSpans
from ._metrics import ActiveChild, HttpMetrics
from ._redaction import clean_text, redact_path, redact_text
from ._span import ServerSpan, UnsampledSpan, sampled_ids
from .logs import (
    ACCESS_LOGGER,
    EXCEPTION_IDS_ATTR,
    AccessFields,
    AccessLineBuffer,
    access_record,
    write_access_line,
)

_log = logging.getLogger("obs.instrumentation")

#: ``server_request_hook(span, scope_or_environ)``: add attributes at the start of a request.
ServerRequestHook = Callable[[trace.Span, Mapping[str, Any]], None]
#: ``response_hook(span, status_code)``: add attributes when the response is known.
ResponseHook = Callable[[trace.Span, int], None]

#: Seconds a shutdown waits for the span processors to export (``Telemetry.flush``).
SHUTDOWN_FLUSH_TIMEOUT = 5.0

#: Longest ``url.path`` kept on spans and access lines (oversized targets are cut, not stored whole).
MAX_PATH = 1024

_METHODS: dict[str, str] = {m: m for m in KNOWN_METHODS}
_new_tuple = tuple.__new__
_SERVER = SpanKind.SERVER
_INFO = logging.INFO


#: A longer path is cut to at most this many characters, at a separator, before it is redacted:
#: redaction then sees whole segments (an e-mail cut in half escapes its rule: ``…@example.c``),
#: and its regexes never an unbounded text. 256 past ``MAX_PATH``: an e-mail (254 at most) that
#: straddles ``MAX_PATH`` is whole in the window.
REDACT_WINDOW = MAX_PATH + 256
#: Where a path may be cut before redaction: no rule's match is made unmatchable by a cut there.
_CUT_AT = ("/", ";", "&", ",", " ")


def clean_path(raw: str) -> str:
    """``url.path`` as recorded: valid UTF-8, personal data redacted, then bounded (redacted
    first: a secret cut by the bound would no longer match its rule)."""
    path = raw
    if len(path) > REDACT_WINDOW:
        cut = max(path.rfind(sep, 0, REDACT_WINDOW) for sep in _CUT_AT)
        # One segment longer than the window: any cut could halve a secret, so none of it is kept.
        path = path[:cut] if cut > 0 else REDACTED
    if not path.isascii():
        # Lone surrogates (undecodable bytes) would break protobuf and JSON encoding downstream.
        path = path.encode("utf-8", "replace").decode("utf-8")
    if "?" in path or "#" in path:  # servers pass the path alone; a raw target keeps its query
        path = redact_path(path)
    elif not clean_text(path):
        path = redact_text(path)
    return path if len(path) <= MAX_PATH else path[:MAX_PATH]


class Request:
    """Per-request state (slots, no dict): never kept on the middleware, so requests cannot mix."""

    __slots__ = ("active", "error", "method", "path", "route", "span", "start", "status", "token")

    def __init__(self, method: str, path: str, start: int) -> None:
        self.method = method
        self.path = path
        self.start = start
        self.span: trace.Span | None = None
        self.token: object | None = None
        self.status = 0
        self.route: str | None = None  # set by a framework that learns it before finish
        self.error: BaseException | None = None
        self.active: ActiveChild | None = None  # the in-flight gauge's child, incremented at begin


class Telemetry:
    """Tracer, metrics and access logger for one instrumented app."""

    def __init__(
        self,
        *,
        tracer: trace.Tracer | None,
        metrics: HttpMetrics | None,
        exemplars: bool,
        access_log: bool,
        access_log_flush_interval: float = 0.0,
        server_request_hook: ServerRequestHook | None = None,
        response_hook: ResponseHook | None = None,
        error_counter: HttpMetrics | None = None,
    ) -> None:
        self.tracer = tracer
        self.lean_spans = LeanSpans.for_tracer(tracer) if tracer is not None else None
        self.metrics = metrics
        self.exemplars = exemplars and metrics is not None and tracer is not None
        self.access_logger = logging.getLogger(ACCESS_LOGGER) if access_log else None
        if self.access_logger is not None and self.access_logger.level == logging.NOTSET:
            # Access lines are INFO; a root logger left at WARNING must not silence them.
            self.access_logger.setLevel(_INFO)
        #: Access lines held and written together (see ``AccessLineBuffer``); None: each at once.
        self.access_buffer = (
            AccessLineBuffer(self.access_logger, access_log_flush_interval)
            if self.access_logger is not None and access_log_flush_interval > 0
            else None
        )
        self.server_request_hook = server_request_hook
        self.response_hook = response_hook
        self._errors = error_counter or metrics

    def without_metrics(self) -> Telemetry:
        """This app's telemetry for what is not a request (WebSocket sessions): the same tracer,
        hooks and access log, no duration histogram or in-flight gauge."""
        clone = copy.copy(self)
        clone.metrics = None
        clone.exemplars = False
        return clone

    def count_error(self, stage: str) -> None:
        if self._errors is not None:
            self._errors.count_error(stage)
        _log.debug("obs instrumentation error at stage %s", stage, exc_info=True)

    # --- request start ------------------------------------------------------------------------

    def begin(
        self,
        raw_method: str,
        raw_path: str,
        scheme: str,
        carrier: Mapping[str, str] | None,
        hook_arg: Any,
        request_type: type[Request] = Request,
    ) -> Request | None:
        """The request's state (of ``request_type``, a ``Request`` subclass a server wrapper may
        extend), with its span started and attached; None if the instrumentation failed."""
        req: Request | None = None
        try:
            method = _METHODS.get(raw_method) or normalize_method(raw_method)
            req = request_type(method, clean_path(raw_path), time_ns())
            tracer = self.tracer
            if tracer is not None:
                # The context the span starts in: the propagated one, else the current one (read once
                # here for both the span's parent and the context the span is set in).
                parent = extract(carrier) if carrier else get_current()
                attributes: dict[str, AttributeValue] = {
                    "http.request.method": method,
                    "url.path": req.path,
                    "url.scheme": scheme,
                }
                lean = self.lean_spans
                span = lean.start(method, parent, attributes, req.start) if lean is not None else None
                if span is None:
                    span = tracer.start_span(
                        method, context=parent, kind=_SERVER, start_time=req.start, attributes=attributes
                    )
                req.span = span
                req.token = attach(set_span_in_context(span, parent))
                if self.server_request_hook is not None and span.is_recording():
                    try:
                        self.server_request_hook(span, hook_arg)
                    except Exception:
                        self.count_error("hook")
            if self.metrics is not None:
                active = req.active = self.metrics.active_child(method)
                active.inc()
            return req
        except Exception:
            self.count_error("request")
            if req is not None:
                # Leave no span open and no context attached: the request goes on uninstrumented.
                self.detach(req)
                if req.span is not None:
                    req.span.end()
            return None

    # --- request end --------------------------------------------------------------------------

    def finish(self, req: Request, route: str | None) -> None:
        """Close the span, observe the duration, write the access line. Never raises."""
        end = time_ns()
        ended = end / 1e9  # the histogram's exemplar and the access line take seconds
        status = req.status or 500  # no response started: the server answers 500
        error = req.error
        label_route = route or UNMATCHED_ROUTE
        span = req.span
        trace_id = span_id = None
        error_type: str | None = None
        try:
            if error is not None:
                error_type = type(error).__qualname__
            elif status >= 500:
                error_type = str(status)
            if span is not None and type(span) is not UnsampledSpan:  # dropped: nothing to log or end
                if type(span) is ServerSpan:
                    trace_id, span_id = span.log_ids()
                else:
                    trace_id, span_id = sampled_ids(span.get_span_context())
                if span.is_recording():
                    self._close_span(span, req.method, route, status, error, error_type)
                span.end(end_time=end)
                if error is not None and trace_id is not None:
                    # The server logs the exception once the request's context is gone: its line
                    # finds the request's ids on the exception (see logs.JsonFormatter).
                    with contextlib.suppress(AttributeError, TypeError):  # a type without __dict__
                        setattr(error, EXCEPTION_IDS_ATTR, (trace_id, span_id))
        except Exception:
            self.count_error("response")
        metrics = self.metrics
        if metrics is not None:
            try:
                exemplar = (
                    {"trace_id": trace_id, "span_id": span_id or ""}
                    if (self.exemplars and trace_id)
                    else None
                )
                child = metrics._durations.get((req.method, label_route, status))
                if child is None:
                    child = metrics.duration_child(req.method, label_route, status)
                child.observe((end - req.start) / 1e9, exemplar, ended)
                active = req.active
                if active is not None:
                    req.active = None
                    active.dec()
            except Exception:
                self.count_error("response")
        logger = self.access_logger
        if logger is not None and logger.isEnabledFor(_INFO):
            try:
                # AccessFields(...) without the NamedTuple's Python __new__: same tuple, fields in order.
                fields: AccessFields = _new_tuple(AccessFields, (
                    req.method,
                    label_route,
                    status,
                    end - req.start,
                    req.path,
                    trace_id,
                    span_id,
                    error_type if error is not None else None,
                    redact_text(str(error)) if error is not None else None,
                ))  # fmt: skip
                buffer = self.access_buffer  # held and written with the next batch when it can be
                if (buffer is None or not buffer.add(fields, ended)) and not write_access_line(
                    logger, None, fields, ended  # None: the usual message
                ):
                    # Logger.handle rather than info(): no caller lookup (a stack walk) for a line
                    # whose origin is always this function; filters and handlers run as usual.
                    logger.handle(access_record(logger, None, fields, ended))
            except Exception:
                self.count_error("access_log")

    def flush_access_log(self) -> None:
        """Write the access lines held for this app now (no-op when they are written at once)."""
        if self.access_buffer is not None:
            self.access_buffer.flush()

    def flush(self, timeout: float = SHUTDOWN_FLUSH_TIMEOUT) -> None:
        """Write held access lines now, and export finished spans, waiting at most ``timeout``
        seconds for the span processors (an unreachable collector must not hold a shutdown)."""
        self.flush_access_log()
        force_flush = getattr(getattr(self.tracer, "span_processor", None), "force_flush", None)
        if force_flush is None:
            return

        def export() -> None:
            try:
                force_flush()
            except Exception:
                self.count_error("response")

        # The SDK's BatchSpanProcessor ignores force_flush's timeout (1.45): bounded by a thread.
        thread = threading.Thread(target=export, name="obs-span-flush", daemon=True)
        thread.start()
        thread.join(timeout)

    def close(self) -> None:
        """Write held access lines and stop their thread (``uninstrument``); later lines go out at once."""
        if self.access_buffer is not None:
            self.access_buffer.close()

    def detach(self, req: Request) -> None:
        token = req.token
        if token is not None:
            req.token = None
            try:
                detach(token)  # type: ignore[arg-type]
            except Exception:
                self.count_error("response")

    def _close_span(
        self,
        span: trace.Span,
        method: str,
        route: str | None,
        status: int,
        error: BaseException | None,
        error_type: str | None,
    ) -> None:
        if isinstance(span, ServerSpan):
            # Built here: nothing to validate or redact. An unmatched request keeps the bare
            # method as its name, never the raw path.
            span.set_response(f"{method} {route}" if route is not None else None, status, route, error_type)
        else:
            attributes: dict[str, str | int] = {"http.response.status_code": status}
            if route is not None:
                span.update_name(f"{method} {route}")
                attributes["http.route"] = route
            if error_type is not None:
                attributes["error.type"] = error_type
            span.set_attributes(attributes)  # one lock, not one per attribute
        if error is not None:
            message = redact_text(str(error))
            # record_exception would store the raw message; the stack trace ends with it too.
            event: dict[str, str | int] = {
                "exception.type": error_type or type(error).__qualname__,
                "exception.message": message,
                "exception.stacktrace": redact_text("".join(traceback.format_exception(error))),
            }
            if isinstance(span, ServerSpan):
                span.add_own_event("exception", event)
            else:
                span.add_event("exception", event)
            span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"))
        elif status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        if self.response_hook is not None:
            try:
                self.response_hook(span, status)
            except Exception:
                self.count_error("hook")


__all__ = ["MAX_PATH", "SHUTDOWN_FLUSH_TIMEOUT", "Request", "ResponseHook", "ServerRequestHook", "Telemetry", "clean_path"]
