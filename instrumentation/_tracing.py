"""Tracer provider from settings: resource, parent-based ratio sampling, OTLP through a batch processor."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from exporters.span_batch import SpanCounts
from obs.contract import ENVIRONMENT_RESOURCE_ATTRIBUTE

from ._settings import InstrumentationSettings, sampler_plugin

_log = logging.getLogger("obs.instrumentation")


def build_resource(settings: InstrumentationSettings) -> Resource:
    attributes: dict[str, str] = {
        "service.name": settings.service_name,
        ENVIRONMENT_RESOURCE_ATTRIBUTE: settings.environment,
    }
    if settings.service_version:
        attributes["service.version"] = settings.service_version
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; the resolved values above win.
    return Resource.create(attributes)


def build_sampler(settings: InstrumentationSettings) -> Sampler:
    """The sampler ``settings.sampler`` names (OpenTelemetry's ``OTEL_TRACES_SAMPLER`` values, or an
    installed SDK sampler plugin, called with ``OTEL_TRACES_SAMPLER_ARG`` as the SDK would)."""
    name, ratio = settings.sampler, settings.sample_ratio
    if name == "always_on":
        return ALWAYS_ON
    if name == "always_off":
        return ALWAYS_OFF
    if name == "traceidratio":
        return TraceIdRatioBased(ratio)
    if name in ("parentbased_traceidratio", "parentbased_always_on", "parentbased_always_off"):
        # parentbased_always_on/off decide as a ratio of 1/0 does: one sampler for the inline path.
        return ParentBased(TraceIdRatioBased(ratio))
    plugin = sampler_plugin(name)
    if plugin is None:  # resolve_settings refused it already; a settings object built by hand
        raise ValueError(f"OTEL_TRACES_SAMPLER={name!r}: no installed sampler plugin of that name")
    sampler: Sampler = plugin.load()(settings.sampler_arg)
    return sampler


def build_tracer_provider(
    settings: InstrumentationSettings,
    span_processors: Iterable[SpanProcessor] = (),
    counts: SpanCounts | None = None,
) -> TracerProvider:
    """A provider with the configured sampler (by default: ``sample_ratio`` of new traces, the
    parent's decision for the others), exporting to the OTLP endpoint and/or the console; the
    spans the OTLP processor exports and drops are counted in ``counts``."""
    provider = TracerProvider(resource=build_resource(settings), sampler=build_sampler(settings))
    for processor in span_processors:
        provider.add_span_processor(processor)
    if settings.otlp_endpoint and "otlp" in settings.exporters:
        from exporters.otlp import build_span_exporter, build_span_processor

        exporter = build_span_exporter(settings.otlp_endpoint, settings.otlp_protocol, timeout=settings.otlp_timeout)
        provider.add_span_processor(
            build_span_processor(
                exporter,
                max_queue_size=settings.span_queue_size,
                max_export_batch_size=settings.span_batch_size,
                schedule_delay_millis=settings.span_schedule_delay_ms,
                export_timeout_millis=settings.span_export_timeout_ms,
                counts=counts,
            )
        )
    if "console" in settings.exporters:
        from exporters.otlp import console_span_processor

        provider.add_span_processor(console_span_processor())
    return provider


def install_global(provider: trace.TracerProvider) -> bool:
    """Make ``provider`` the global one if none was set (OpenTelemetry allows setting it once)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
        return True
    return False


#: Client libraries obs gives client spans to, when both the library and its OpenTelemetry
#: instrumentation (``pip install obs[clients]``) are installed: (library, instrumentation module,
#: instrumentor class). Statements are recorded without their parameters (psycopg, SQLAlchemy) and
#: Redis commands with their arguments as "?" (the instrumentations' defaults, kept).
CLIENT_INSTRUMENTATIONS: tuple[tuple[str, str, str], ...] = (
    ("httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    ("requests", "opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    ("psycopg", "opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
    ("psycopg2", "opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
    ("sqlalchemy", "opentelemetry.instrumentation.sqlalchemy", "SQLAlchemyInstrumentor"),
    ("redis", "opentelemetry.instrumentation.redis", "RedisInstrumentor"),
)


def instrument_clients(provider: trace.TracerProvider) -> list[str]:
    """Client spans (and ``traceparent`` on outgoing HTTP calls) for the client libraries that are
    installed with their OpenTelemetry instrumentation; a library installed without it is named
    once. SQLAlchemy: engines created after ``instrument()`` (the instrumentation wraps
    ``create_engine``)."""
    done: list[str] = []
    for library, module_name, class_name in CLIENT_INSTRUMENTATIONS:
        if importlib.util.find_spec(library) is None:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            _log.info("%s is installed without %s: no client spans for it (pip install obs[clients])",
                      library, module_name.replace(".", "-").replace("_", "-"))  # fmt: skip
            continue
        try:
            instrumentor = getattr(module, class_name)()
            if not instrumentor.is_instrumented_by_opentelemetry:
                # Refuses (and says why) a library version outside the range it supports.
                instrumentor.instrument(tracer_provider=provider)
            if instrumentor.is_instrumented_by_opentelemetry:
                done.append(class_name)
        except Exception:  # a client instrumentation failing must not stop the service
            _log.warning("could not instrument %s", library, exc_info=True)
    return done


__all__ = ["CLIENT_INSTRUMENTATIONS", "build_resource", "build_sampler", "build_tracer_provider", "install_global", "instrument_clients"]
