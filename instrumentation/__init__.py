"""obs instrumentation: one call gives a FastAPI or Flask service traces, metrics and logs that match
the generated dashboards and alerts (names from ``obs.contract``).

FastAPI::

    from fastapi import FastAPI
    from instrumentation import instrument

    app = FastAPI()
    instrument(app, service_name="backend", service_version="1.4.2", environment="prod")

Flask::

    from flask import Flask
    from instrumentation import instrument

    app = Flask(__name__)
    instrument(app, service_name="backend")

Settings resolve as: explicit argument, then ``OBS_*`` environment variables, then the standard
``OTEL_*`` ones (see ``docs/instrumentation.md``). ``instrument`` is idempotent per app and
``uninstrument(app)`` restores it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from prometheus_client import REGISTRY, CollectorRegistry

from exporters.span_batch import SpanCounts

from ._core import ResponseHook, ServerRequestHook, Telemetry
from ._internals import fastapi_native_telemetry, report
from ._metrics import HttpMetrics
from ._settings import InstrumentationSettings, OtlpProtocol, resolve_settings
from ._tracing import build_tracer_provider, install_global, instrument_clients
from .coexist import keep_one_server_span
from .log_filters import RepeatedWarningFilter
from .logs import JsonFormatter, build_record
from .servers import adopt_server_loggers, log_uncaught_exceptions

_log = logging.getLogger("obs.instrumentation")
_STATE_ATTR = "_obs_instrumentation"
#: Marks the root handler ``instrument()`` made itself (reused by a second instrumented app).
_OWN_HANDLER = "_obs_json_handler"


@dataclass(eq=False)
class Instrumentation:
    """What ``instrument()`` set up on one app (returned, and kept on the app for ``uninstrument``)."""

    app: Any
    framework: str
    settings: InstrumentationSettings
    tracer_provider: trace.TracerProvider | None
    registry: CollectorRegistry | None
    metrics: HttpMetrics | None
    telemetry: Telemetry
    log_handler: logging.Handler | None = None
    metrics_server: Any = None
    _undo: list[Any] = field(default_factory=list)


def instrument(
    app: Any,
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    traces: bool | None = None,
    sample_ratio: float | None = None,
    otlp_endpoint: str | None = None,
    otlp_protocol: OtlpProtocol | None = None,
    span_processors: Iterable[SpanProcessor] = (),
    metrics: bool | None = None,
    exemplars: bool | None = None,
    metrics_path: str | None = None,
    metrics_port: int | None = None,
    metrics_addr: str = "0.0.0.0",
    metrics_token: str | None = None,
    metrics_token_file: str | None = None,
    access_log: bool | None = None,
    access_log_flush_interval: float | None = None,
    json_logs: bool | None = None,
    log_handler: logging.Handler | None = None,
    excluded_urls: Sequence[str] | None = None,
    server_request_hook: ServerRequestHook | None = None,
    response_hook: ResponseHook | None = None,
    trace_clients: bool = True,
) -> Instrumentation:
    """Instrument a FastAPI/Starlette or Flask ``app`` in place; a second call returns the first result.

    ``tracer_provider`` and ``registry`` are injectable (tests, or a service that owns its own);
    without them a provider is built from the settings (and made global if none is) and the metrics
    go to prometheus_client's global registry.
    """
    existing: Instrumentation | None = getattr(app, _STATE_ATTR, None)
    if existing is not None:
        _log.warning("app %r is already instrumented; instrument() ignored the second call", app)
        return existing
    framework = _framework(app)
    settings = resolve_settings(
        service_name=service_name,
        service_version=service_version,
        environment=environment,
        traces=traces,
        sample_ratio=sample_ratio,
        otlp_endpoint=otlp_endpoint,
        otlp_protocol=otlp_protocol,
        metrics=metrics,
        exemplars=exemplars,
        metrics_path=metrics_path,
        metrics_port=metrics_port,
        metrics_token=metrics_token,
        metrics_token_file=metrics_token_file,
        access_log=access_log,
        access_log_flush_interval=access_log_flush_interval,
        json_logs=json_logs,
        excluded_urls=excluded_urls,
    )

    target_registry = registry if registry is not None else REGISTRY
    http_metrics = HttpMetrics.for_registry(target_registry)
    http_metrics.set_identity(settings.service_name, settings.service_version, settings.environment)

    provider: trace.TracerProvider | None = None
    tracer: trace.Tracer | None = None
    if settings.traces:
        if tracer_provider is None:
            counts = SpanCounts()
            counts.count_into(http_metrics.spans_exported, http_metrics.spans_dropped)
            provider = build_tracer_provider(settings, span_processors, counts)
            install_global(provider)
        else:
            provider = tracer_provider
        tracer = provider.get_tracer("obs.instrumentation")
        if trace_clients:
            instrument_clients(provider)

    telemetry = Telemetry(
        tracer=tracer,
        metrics=http_metrics if settings.metrics else None,
        exemplars=settings.exemplars,
        access_log=settings.access_log,
        access_log_flush_interval=settings.access_log_flush_interval,
        server_request_hook=server_request_hook,
        response_hook=response_hook,
        error_counter=http_metrics,
    )
    state = Instrumentation(app, framework, settings, provider, target_registry, http_metrics, telemetry)

    endpoint = None
    if settings.metrics:
        from exporters.prometheus import BearerToken, MetricsEndpoint, start_metrics_server

        token = BearerToken(value=settings.metrics_token, path=settings.metrics_token_file)
        endpoint = MetricsEndpoint(registry, token)
        if settings.metrics_port is not None:
            try:
                state.metrics_server = start_metrics_server(settings.metrics_port, metrics_addr, registry, token)
            except OSError:
                # Several workers share one port: the first binds, the others rely on it.
                http_metrics.count_error("setup")
                _log.warning("metrics port %s is taken; not serving metrics from this process", settings.metrics_port)
            endpoint = None  # on a separate port, the app does not answer /metrics itself

    regex = settings.excluded_regex()
    excluded = regex.match if regex is not None else None
    # The zero-code agent or a contrib instrumentor on the same app: one server span per request.
    say_others = keep_one_server_span(app, framework, obs_traces=settings.traces)
    if framework == "flask":
        _instrument_flask(app, state, excluded, endpoint)
    else:
        _instrument_starlette(app, state, excluded, endpoint)

    if settings.json_logs:
        state.log_handler = _install_json_logging(settings, log_handler)
        _adopt_process_logging(app, framework, state)
    report()  # why a fast path is off, once per process, through the logging just set up
    say_others()
    setattr(app, _STATE_ATTR, state)
    return state


def uninstrument(app: Any) -> None:
    """Undo ``instrument(app)``; harmless on an app that is not instrumented."""
    state: Instrumentation | None = getattr(app, _STATE_ATTR, None)
    if state is None:
        _log.warning("app %r is not instrumented; uninstrument() did nothing", app)
        return
    for undo in reversed(state._undo):
        undo()
    state.telemetry.close()  # held access lines are written before the handler goes
    if state.log_handler is not None:
        logging.getLogger().removeHandler(state.log_handler)
    if state.metrics_server is not None:
        state.metrics_server.close()
    delattr(app, _STATE_ATTR)


def _framework(app: Any) -> str:
    try:
        from flask import Flask

        if isinstance(app, Flask):
            return "flask"
    except ImportError:
        pass
    try:
        from starlette.applications import Starlette

        if isinstance(app, Starlette):
            return "starlette"
    except ImportError:
        pass
    raise TypeError(f"instrument() supports FastAPI/Starlette and Flask apps, not {type(app).__name__}")


def _instrument_starlette(app: Any, state: Instrumentation, excluded: Any, endpoint: Any) -> None:
    from ._asgi import ObsASGIMiddleware, RouteResolver

    routes = RouteResolver(app)
    had_own = "build_middleware_stack" in vars(app)
    original = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        # Outermost: sees the 500 that ServerErrorMiddleware sends and the exception it re-raises.
        return ObsASGIMiddleware(
            original(),
            state.telemetry,
            routes,
            excluded=excluded,
            metrics_path=state.settings.metrics_path,
            metrics_endpoint=endpoint,
        )

    app.build_middleware_stack = build_middleware_stack
    app.middleware_stack = None  # rebuilt on the next request, with our middleware
    # FastAPI >= 0.16x has native OpenTelemetry telemetry that switches itself on once a global
    # tracer provider exists: it would add a second server span per request, and its logs carry
    # unredacted exception messages. obs replaces it for this app (restored by uninstrument).
    native = fastapi_native_telemetry(app) if _is_fastapi(app) else None
    saved_native = dict(native) if isinstance(native, dict) else None
    if isinstance(native, dict):
        native.update({"tracing": False, "metrics": False, "logs": False})

    def undo() -> None:
        if had_own:
            app.build_middleware_stack = original
        else:
            del app.build_middleware_stack
        app.middleware_stack = None
        if isinstance(native, dict) and saved_native is not None:
            native.update(saved_native)

    state._undo.append(undo)


def _is_fastapi(app: Any) -> bool:
    try:
        from fastapi import FastAPI
    except ImportError:
        return False
    return isinstance(app, FastAPI)


def _instrument_flask(app: Any, state: Instrumentation, excluded: Any, endpoint: Any) -> None:
    from flask import Flask, got_request_exception

    from ._wsgi import ObsWSGIMiddleware, record_exception, record_route

    original = app.wsgi_app
    middleware = ObsWSGIMiddleware(
        original,
        state.telemetry,
        excluded=excluded,
        metrics_path=state.settings.metrics_path,
        metrics_endpoint=endpoint,
    )
    # Flask's own wsgi_app starts the response inside the request context, where the wrapper reads
    # the route; another WSGI layer in between may not, so the route is then left in the environ.
    own_wsgi_app = getattr(original, "__func__", None) is Flask.wsgi_app and middleware.request_context is not None
    app.wsgi_app = middleware
    if not own_wsgi_app:
        app.before_request_funcs.setdefault(None, []).insert(0, record_route)
    got_request_exception.connect(record_exception, app, weak=False)

    def undo() -> None:
        app.wsgi_app = original
        funcs = app.before_request_funcs.get(None, [])
        if record_route in funcs:
            funcs.remove(record_route)
        got_request_exception.disconnect(record_exception, app)

    state._undo.append(undo)


def _adopt_process_logging(app: Any, framework: str, state: Instrumentation) -> None:
    """The rest of the process's lines through the same JSON formatter: the servers' own loggers,
    uncaught thread exceptions and warnings, and Flask's default handler (plain text) taken off
    the app's logger, whose records reach the root handler instead."""
    handler = state.log_handler
    formatter = handler.formatter if handler is not None else None
    if not isinstance(formatter, JsonFormatter):
        return
    state._undo.append(adopt_server_loggers(formatter, keep_access=not state.settings.access_log))
    state._undo.append(log_uncaught_exceptions())
    if framework == "flask":
        from flask.logging import default_handler

        logger = app.logger
        if default_handler in logger.handlers:
            logger.removeHandler(default_handler)
            state._undo.append(lambda: logger.addHandler(default_handler))


def _install_json_logging(settings: InstrumentationSettings, handler: logging.Handler | None) -> logging.Handler:
    """JSON lines for the app's records and the access log, through one handler on the root logger
    (the one a previous ``instrument()`` installed, when there is one: each line once)."""
    root = logging.getLogger()
    if handler is None:
        handler = next((h for h in root.handlers if getattr(h, _OWN_HANDLER, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _OWN_HANDLER, True)
    if not isinstance(handler.formatter, JsonFormatter):
        handler.setFormatter(JsonFormatter(settings.service_name, settings.service_version, settings.environment))
    if not any(isinstance(f, RepeatedWarningFilter) for f in handler.filters):
        handler.addFilter(RepeatedWarningFilter())  # one warning per cause of the telemetry libraries
    if handler not in root.handlers:
        root.addHandler(handler)
    return handler


__all__ = [
    "Instrumentation",
    "InstrumentationSettings",
    "JsonFormatter",
    "build_record",
    "instrument",
    "resolve_settings",
    "uninstrument",
]
