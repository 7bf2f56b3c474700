"""Settings: an explicit argument wins, then an ``OBS_*`` variable, then the standard ``OTEL_*`` ones.

Resolved once, at ``instrument()`` time, into a frozen object: the request path never reads the
environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Literal

OtlpProtocol = Literal["grpc", "http/protobuf"]

#: Health checks and the scrape endpoint stay out of traces, metrics and access logs.
DEFAULT_EXCLUDED_URLS: tuple[str, ...] = ("/healthz", "/readyz", "/livez", "/metrics")
DEFAULT_METRICS_PATH = "/metrics"
DEFAULT_SERVICE_NAME = "unknown_service"  # OpenTelemetry's own default
DEFAULT_ENVIRONMENT = "unknown"
#: Access lines are held up to a second and written together: see ``logs.AccessLineBuffer``.
DEFAULT_ACCESS_LOG_FLUSH_INTERVAL = 1.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

#: ``OTEL_TRACES_SAMPLER`` values of the OpenTelemetry specification that obs builds itself.
#: ``parentbased_always_on``/``_off`` are built as ``ParentBased(TraceIdRatioBased(1 or 0))``: the
#: same decisions, on the instrumentation's inline sampling path.
SAMPLERS: tuple[str, ...] = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
#: What obs samples with unless told otherwise (the specification's default, parentbased_always_on).
DEFAULT_SAMPLER = "parentbased_traceidratio"
#: Entry point group of the OpenTelemetry SDK's sampler plugins (``jaeger_remote``, ``xray``, ...).
SAMPLER_ENTRY_POINTS = "opentelemetry_traces_sampler"
#: ``OTEL_TRACES_EXPORTER`` values obs honours (comma-separated; ``none`` alone switches traces off).
TRACES_EXPORTERS: tuple[str, ...] = ("otlp", "console", "none")


@dataclass(frozen=True, slots=True)
class InstrumentationSettings:
    """Everything ``instrument()`` decided, after arguments and environment were merged."""

    service_name: str = DEFAULT_SERVICE_NAME
    service_version: str = ""
    environment: str = DEFAULT_ENVIRONMENT
    traces: bool = True
    #: The ratio of new traces sampled (``traceidratio`` samplers; 1 or 0 for the others).
    sample_ratio: float = 1.0
    #: An ``OTEL_TRACES_SAMPLER`` name: one of ``SAMPLERS``, or an installed SDK sampler plugin's.
    sampler: str = DEFAULT_SAMPLER
    #: ``OTEL_TRACES_SAMPLER_ARG`` as given, for a plugin sampler.
    sampler_arg: str | None = None
    #: ``OTEL_TRACES_EXPORTER`` beyond OTLP: ``("console",)`` writes each span as one JSON line on stdout.
    exporters: tuple[str, ...] = ("otlp",)
    otlp_endpoint: str | None = None
    otlp_protocol: OtlpProtocol = "http/protobuf"
    otlp_timeout: float = 5.0
    #: The batch span processor: ``OTEL_BSP_MAX_QUEUE_SIZE``, ``_MAX_EXPORT_BATCH_SIZE``,
    #: ``_SCHEDULE_DELAY`` and ``_EXPORT_TIMEOUT`` (milliseconds), as the SDK reads them.
    span_queue_size: int = 2048
    span_batch_size: int = 512
    span_schedule_delay_ms: int = 1000
    span_export_timeout_ms: int = 10_000
    metrics: bool = True
    exemplars: bool = True
    metrics_path: str | None = DEFAULT_METRICS_PATH
    metrics_port: int | None = None
    metrics_token: str | None = field(default=None, repr=False)
    metrics_token_file: str | None = None
    access_log: bool = True
    #: Seconds an access line may be held to be written with others (0: each at once); see
    #: ``instrumentation.logs.AccessLineBuffer``.
    access_log_flush_interval: float = DEFAULT_ACCESS_LOG_FLUSH_INTERVAL
    json_logs: bool = True
    excluded_urls: tuple[str, ...] = DEFAULT_EXCLUDED_URLS
    resource_attributes: Mapping[str, str] = field(default_factory=dict)

    def excluded_regex(self) -> re.Pattern[str] | None:
        """One alternation for every excluded URL (compiled once; matched against the path)."""
        if not self.excluded_urls:
            return None
        return re.compile("|".join(f"(?:{u})" for u in self.excluded_urls))


def parse_resource_attributes(raw: str | None) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, values percent-encoded) as a dict; bad pairs skipped."""
    from urllib.parse import unquote

    out: dict[str, str] = {}
    for pair in (raw or "").split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(value.strip())
    return out


def _bool(value: str | None, name: str) -> bool | None:
    """The boolean in variable ``name`` (None when unset); anything else names the variable."""
    if value is None:
        return None
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false (also 1/0, yes/no, on/off), got {value!r}")


def _float(env: Mapping[str, str], name: str) -> float | None:
    """The number in variable ``name``, None when unset or empty; a bad value names the variable."""
    raw = env.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return value


def sampler_plugin(name: str) -> EntryPoint | None:
    """The installed OpenTelemetry SDK sampler plugin called ``name`` (entry point group
    ``opentelemetry_traces_sampler``, what the SDK itself resolves unknown names through), or None."""
    for entry in entry_points(group=SAMPLER_ENTRY_POINTS, name=name):
        return entry
    return None


def _sampler_from_otel(env: Mapping[str, str]) -> tuple[str, float, str | None] | None:
    """(sampler, ratio of new traces, raw argument) from ``OTEL_TRACES_SAMPLER``/``_ARG``; None when
    unset. A sampler that is neither the specification's nor an installed plugin is refused."""
    raw = env.get("OTEL_TRACES_SAMPLER", "").strip()
    if not raw:
        return None
    sampler = raw.lower()
    arg = env.get("OTEL_TRACES_SAMPLER_ARG")
    if sampler in ("always_on", "parentbased_always_on"):
        return sampler, 1.0, None
    if sampler in ("always_off", "parentbased_always_off"):
        return sampler, 0.0, None
    if sampler in ("traceidratio", "parentbased_traceidratio"):
        ratio = _float(env, "OTEL_TRACES_SAMPLER_ARG")
        ratio = 1.0 if ratio is None else ratio
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio within [0, 1] for {sampler}, got {arg!r}")
        return sampler, ratio, arg
    if sampler_plugin(raw) is not None:
        return raw, 1.0, arg
    raise ValueError(
        f"OTEL_TRACES_SAMPLER={raw!r} is not a sampler obs builds and no installed package provides it "
        f"(entry point group {SAMPLER_ENTRY_POINTS!r}); accepted: {', '.join(SAMPLERS)}"
    )


def _exporters_from_otel(env: Mapping[str, str]) -> tuple[str, ...]:
    """``OTEL_TRACES_EXPORTER`` as a tuple of honoured names; unknown ones refused."""
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not raw:
        return ("otlp",)
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in TRACES_EXPORTERS]
    if unknown or ("none" in names and len(names) > 1):
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={raw!r}: obs exports spans with {', '.join(TRACES_EXPORTERS[:2])} "
            f"(comma-separated) or none alone; got {', '.join(unknown) or 'none with another exporter'}"
        )
    return names


def _otel_endpoint(env: Mapping[str, str]) -> str | None:
    # The signal-specific variable is a full URL; the generic one is a base URL (the HTTP exporter
    # appends /v1/traces to it). Both are normalized to a base here, and exporters/otlp adds the path.
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    return env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def resolve_settings(
    *,
    env: Mapping[str, str] | None = None,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    traces: bool | None = None,
    sample_ratio: float | None = None,
    otlp_endpoint: str | None = None,
    otlp_protocol: OtlpProtocol | None = None,
    otlp_timeout: float | None = None,
    metrics: bool | None = None,
    exemplars: bool | None = None,
    metrics_path: str | None = None,
    metrics_port: int | None = None,
    metrics_token: str | None = None,
    metrics_token_file: str | None = None,
    access_log: bool | None = None,
    access_log_flush_interval: float | None = None,
    json_logs: bool | None = None,
    excluded_urls: Sequence[str] | None = None,
) -> InstrumentationSettings:
    """Merge arguments (first), ``OBS_*`` (second) and ``OTEL_*`` (last) into settings."""
    e = os.environ if env is None else env
    res = parse_resource_attributes(e.get("OTEL_RESOURCE_ATTRIBUTES"))

    def pick(arg: str | None, *names: str) -> str | None:
        if arg is not None:
            return arg
        for name in names:
            value = e.get(name)
            if value:
                return value
        return None

    name = pick(service_name, "OBS_SERVICE_NAME", "OTEL_SERVICE_NAME") or res.get("service.name")
    version = pick(service_version, "OBS_SERVICE_VERSION") or res.get("service.version", "")
    env_name = (
        pick(environment, "OBS_ENVIRONMENT")
        or res.get("deployment.environment.name")
        or res.get("deployment.environment")
    )

    exporters = _exporters_from_otel(e)
    traces_on = traces if traces is not None else _bool(e.get("OBS_TRACES"), "OBS_TRACES")
    if traces_on is None:
        sdk_disabled = _bool(e.get("OTEL_SDK_DISABLED"), "OTEL_SDK_DISABLED") or False
        traces_on = not sdk_disabled and exporters != ("none",)

    # An explicit ratio (argument, then OBS_TRACES_SAMPLE_RATIO) is parent-based; then OTEL_TRACES_SAMPLER.
    sampler, sampler_arg = DEFAULT_SAMPLER, None
    ratio = sample_ratio
    if ratio is None:
        ratio = _float(e, "OBS_TRACES_SAMPLE_RATIO")
        if ratio is not None and not 0.0 <= ratio <= 1.0:
            raise ValueError(f"OBS_TRACES_SAMPLE_RATIO must be within [0, 1], got {ratio}")
    if ratio is None:
        from_otel = _sampler_from_otel(e)
        if from_otel is not None:
            sampler, ratio, sampler_arg = from_otel
    ratio = 1.0 if ratio is None else ratio
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"sample_ratio must be within [0, 1], got {ratio}")

    endpoint = otlp_endpoint if otlp_endpoint is not None else (e.get("OBS_OTLP_ENDPOINT") or _otel_endpoint(e))
    protocol_raw = pick(
        otlp_protocol, "OBS_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    protocol: OtlpProtocol = "http/protobuf"
    if protocol_raw is not None:
        if protocol_raw not in ("grpc", "http/protobuf"):
            source = "otlp_protocol" if otlp_protocol is not None else next(
                n for n in ("OBS_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
                if e.get(n)
            )  # fmt: skip
            raise ValueError(f"{source} (OTLP protocol) must be 'grpc' or 'http/protobuf', got {protocol_raw!r}")
        protocol = "grpc" if protocol_raw == "grpc" else "http/protobuf"

    timeout = otlp_timeout
    if timeout is None:
        raw_timeout = _float(e, "OBS_OTLP_TIMEOUT")
        timeout = 5.0 if raw_timeout is None else raw_timeout

    flush_interval = access_log_flush_interval
    if flush_interval is None:
        raw_interval = _float(e, "OBS_ACCESS_LOG_FLUSH_INTERVAL")
        flush_interval = DEFAULT_ACCESS_LOG_FLUSH_INTERVAL if raw_interval is None else raw_interval
    if not 0.0 <= flush_interval <= 3600.0:  # NaN fails too
        raise ValueError(
            f"access_log_flush_interval (OBS_ACCESS_LOG_FLUSH_INTERVAL) must be within [0, 3600] seconds, "
            f"0 to write each line at once; got {flush_interval}"
        )

    port: int | None = metrics_port
    if port is None and e.get("OBS_METRICS_PORT"):
        try:
            port = int(e["OBS_METRICS_PORT"])
        except ValueError:
            raise ValueError(f"OBS_METRICS_PORT must be a port number, got {e['OBS_METRICS_PORT']!r}") from None
    if port is not None and not 0 <= port <= 65535:
        raise ValueError(f"metrics_port (OBS_METRICS_PORT) must be within [0, 65535], got {port}")
    excluded: tuple[str, ...]
    if excluded_urls is not None:
        excluded = tuple(excluded_urls)
    else:
        raw = e.get("OBS_EXCLUDED_URLS") or e.get("OTEL_PYTHON_EXCLUDED_URLS")
        excluded = tuple(u.strip() for u in raw.split(",") if u.strip()) if raw else DEFAULT_EXCLUDED_URLS

    def flag(arg: bool | None, name: str, default: bool) -> bool:
        if arg is not None:
            return arg
        value = _bool(e.get(name), name)
        return default if value is None else value

    return InstrumentationSettings(
        service_name=name or DEFAULT_SERVICE_NAME,
        service_version=version or "",
        environment=env_name or DEFAULT_ENVIRONMENT,
        traces=traces_on,
        sample_ratio=ratio,
        sampler=sampler,
        sampler_arg=sampler_arg,
        exporters=tuple(n for n in exporters if n != "none"),
        otlp_endpoint=endpoint or None,
        otlp_protocol=protocol,
        otlp_timeout=timeout,
        span_queue_size=_positive_int(e, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
        span_batch_size=_positive_int(e, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
        span_schedule_delay_ms=_positive_int(e, "OTEL_BSP_SCHEDULE_DELAY", 1000),
        span_export_timeout_ms=_positive_int(e, "OTEL_BSP_EXPORT_TIMEOUT", 10_000),
        metrics=flag(metrics, "OBS_METRICS", True),
        exemplars=flag(exemplars, "OBS_EXEMPLARS", True),
        metrics_path=metrics_path if metrics_path is not None else e.get("OBS_METRICS_PATH", DEFAULT_METRICS_PATH) or None,
        metrics_port=port,
        metrics_token=pick(metrics_token, "OBS_METRICS_TOKEN"),
        metrics_token_file=pick(metrics_token_file, "OBS_METRICS_TOKEN_FILE"),
        access_log=flag(access_log, "OBS_ACCESS_LOG", True),
        access_log_flush_interval=flush_interval,
        json_logs=flag(json_logs, "OBS_JSON_LOGS", True),
        excluded_urls=excluded,
        resource_attributes=res,
    )
