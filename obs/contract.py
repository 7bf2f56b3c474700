"""The metrics contract: every metric, label, log field and redaction rule that obs emits or reads.

This module is the single source of names. The instrumentation (``instrumentation/``) and the
exporters (``exporters/``) import it to *emit*; the rule, dashboard and pipeline renderers import it
to *read*. A query that names a metric not declared here (or recorded by a generated rule, or
declared by the author) is a build error.

It imports nothing but the standard library, so a service that imports the instrumentation does not
pull the model, the renderers or the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram", "summary", "info"]

# --- labels -------------------------------------------------------------------------------------

#: Attached to every target by the generated scrape configuration (service identity).
SERVICE_LABEL = "service"
#: Attached to every target by the generated scrape configuration.
TEAM_LABEL = "team"
#: Prometheus external label that names the environment (dev, staging, prod).
ENVIRONMENT_LABEL = "environment"
#: On Kubernetes, every target carries its pod's namespace and name (the Prometheus Operator's
#: names; plain Prometheus's pod discovery is relabeled to the same), so each replica is its own series.
NAMESPACE_LABEL = "namespace"
POD_LABEL = "pod"

#: OpenTelemetry HTTP server semantic conventions (stable), as they appear in Prometheus.
METHOD_LABEL = "http_request_method"
ROUTE_LABEL = "http_route"
STATUS_LABEL = "http_response_status_code"

#: The HTTP methods kept as label values; anything else becomes ``OTHER_METHOD`` (semconv ``_OTHER``).
KNOWN_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
OTHER_METHOD = "_OTHER"
#: The one route label value for requests that matched no route (404s, scans): never the raw path.
UNMATCHED_ROUTE = "__unmatched__"
#: Probes and scrapes: frequent, uniform and uninteresting. Not measured by the instrumentation,
#: never traced, never sampled by the pipelines.
HEALTH_ROUTES: tuple[str, ...] = ("/healthz", "/readyz", "/livez", "/metrics")

#: Latency buckets in seconds. Every typical SLO threshold is an exact boundary, so a latency SLI
#: ``le="<threshold>"`` counts exactly the requests under the threshold, with no interpolation.
SLO_THRESHOLDS_SECONDS: tuple[float, ...] = (0.1, 0.25, 0.3, 0.5, 1.0, 2.5)
#: Few on purpose: the histogram is most of /metrics (buckets + 2 series per method and route), and
#: issue 18 caps /metrics at 2x prometheus-fastapi-instrumentator's (docs/benchmarks.md). The SLO
#: thresholds, three bounds under them for fast services and two over them (a p99 alert's test
#: needs the two buckets above its threshold); no step coarser than 2.5x.
HTTP_DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)


def normalize_method(method: str) -> str:
    """Return the method label value: a known method upper-cased, anything else ``_OTHER``."""
    upper = method.upper()
    return upper if upper in KNOWN_METHODS else OTHER_METHOD


def format_bucket(bound: float) -> str:
    """Format a bucket bound the way prometheus_client writes ``le`` (``0.3``, ``1.0``, ``+Inf``)."""
    if bound == float("inf"):
        return "+Inf"
    return repr(float(bound))


#: blackbox_exporter module the generated probes use (rendered by the exporters group).
BLACKBOX_HTTP_MODULE = "http_2xx"


# --- metrics ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family as it appears in Prometheus.

    ``name`` is the family name as PromQL selects it, without type suffixes for histograms
    (``http_server_request_duration_seconds``) and with ``_total`` for counters.
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    source: str = "obs"
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", self.name):
            raise ValueError(f"metric name {self.name!r} is not a valid Prometheus name")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end with _total")
        if self.type == "histogram" and not self.buckets and self.source == "obs":
            raise ValueError(f"histogram {self.name!r} needs buckets")

    @property
    def series_names(self) -> frozenset[str]:
        """Every name a PromQL selector may use for this family."""
        if self.type == "histogram":
            return frozenset({f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"})
        if self.type == "summary":
            return frozenset({self.name, f"{self.name}_sum", f"{self.name}_count"})
        if self.type == "counter":
            # OpenMetrics exposes `_created` beside a counter; obs's own exposition leaves it out
            # (exporters.prometheus), so a query of an obs counter's `_created` selects nothing.
            if self.source == "obs":
                return frozenset({self.name})
            return frozenset({self.name, self.name.removesuffix("_total") + "_created"})
        if self.type == "info":
            return frozenset({self.name if self.name.endswith("_info") else self.name + "_info"})
        return frozenset({self.name})

    @property
    def prometheus_client_name(self) -> str:
        """The name to give prometheus_client, which appends ``_total``/``_info`` itself."""
        if self.type == "counter":
            return self.name.removesuffix("_total")
        if self.type == "info":
            return self.name.removesuffix("_info")
        return self.name


# What the obs instrumentation emits ------------------------------------------------------------

#: By method and route, over every status: the latency SLIs and quantiles read it. The status is on
#: HTTP_SERVER_REQUESTS (a status label here multiplied the buckets by the statuses a route answers).
HTTP_SERVER_DURATION = Metric(
    "http_server_request_duration_seconds",
    "histogram",
    "Duration of HTTP server requests.",
    (METHOD_LABEL, ROUTE_LABEL),
    buckets=HTTP_DURATION_BUCKETS,
)
#: Requests by method, route and status: request rates, error ratios and availability SLIs read it.
HTTP_SERVER_REQUESTS = Metric(
    "http_server_requests_total",
    "counter",
    "HTTP server requests, by response status.",
    (METHOD_LABEL, ROUTE_LABEL, STATUS_LABEL),
)
HTTP_SERVER_ACTIVE = Metric(
    "http_server_active_requests",
    "gauge",
    "Number of active HTTP server requests.",
    (METHOD_LABEL,),
)
#: Where the instrumentation caught an error of its own (``stage`` label values of
#: obs_instrumentation_errors_total): fixed, so the counter's series are bounded and the dashboards
#: and alerts can name them.
INSTRUMENTATION_ERROR_STAGES: tuple[str, ...] = (
    "request",  # starting the span / metrics of a request
    "response",  # finishing them
    "hook",  # a user's server_request_hook / response_hook raised
    "access_log",  # building or writing the access line
    "metrics_endpoint",  # serving /metrics
    "setup",  # instrument() itself (e.g. the metrics port was taken)
)
INSTRUMENTATION_ERRORS = Metric(
    "obs_instrumentation_errors_total",
    "counter",
    "Errors raised inside the obs instrumentation and swallowed so the request went on.",
    ("stage",),
)
LOG_RECORDS_DROPPED = Metric(
    "obs_log_records_dropped_total",
    "counter",
    "Log records dropped because the shipping buffer was full or the receiver was down.",
    ("sink",),
)
#: Why a span never reached the collector (``reason`` label values of obs_trace_spans_dropped_total).
TRACE_SPAN_DROP_REASONS: tuple[str, ...] = (
    "queue_full",  # the export queue was full (collector down or slow): the oldest span was dropped
    "export_failed",  # the exporter gave up on a batch (after its own retries)
    "shutdown",  # ended after the span processor was shut down
)
TRACE_SPANS_EXPORTED = Metric(
    "obs_trace_spans_exported_total",
    "counter",
    "Spans the instrumentation's trace exporter delivered to the collector.",
)
TRACE_SPANS_DROPPED = Metric(
    "obs_trace_spans_dropped_total",
    "counter",
    "Sampled spans lost before reaching the collector, by reason.",
    ("reason",),
)
#: The OpenTelemetry resource attribute naming the environment: on every span (a process tag in
#: Jaeger, which the dashboards' trace searches filter on) and, as a label, on target_info.
ENVIRONMENT_RESOURCE_ATTRIBUTE = "deployment.environment"
#: target_info's label for it (the dashboards read the picked Prometheus's environment from it).
TARGET_INFO_ENVIRONMENT_LABEL = "deployment_environment"
TARGET_INFO = Metric(
    "target_info",
    "gauge",
    "Target metadata (OpenTelemetry resource attributes).",
    ("service_name", "service_version", TARGET_INFO_ENVIRONMENT_LABEL),
)
PROCESS_METRICS = (
    Metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    Metric("process_cpu_seconds_total", "counter", "Total user and system CPU time in seconds."),
    Metric("process_open_fds", "gauge", "Number of open file descriptors."),
    Metric("process_max_fds", "gauge", "Maximum number of open file descriptors."),
    Metric("process_start_time_seconds", "gauge", "Start time of the process since epoch."),
)

OBS_METRICS: tuple[Metric, ...] = (
    HTTP_SERVER_DURATION,
    HTTP_SERVER_REQUESTS,
    HTTP_SERVER_ACTIVE,
    INSTRUMENTATION_ERRORS,
    LOG_RECORDS_DROPPED,
    TRACE_SPANS_EXPORTED,
    TRACE_SPANS_DROPPED,
    TARGET_INFO,
    *PROCESS_METRICS,
)

#: Labels whose values the instrumentation controls; nothing else may carry request data.
HTTP_METRIC_LABELS: frozenset[str] = frozenset({METHOD_LABEL, ROUTE_LABEL, STATUS_LABEL})


def _family(source: str, specs: Iterable[tuple[str, MetricType, str, tuple[str, ...]]]) -> tuple[Metric, ...]:
    return tuple(Metric(n, t, h, labels, source=source) for n, t, h, labels in specs)


# What Prometheus itself provides --------------------------------------------------------------

PROMETHEUS_METRICS = _family(
    "prometheus",
    [
        ("up", "gauge", "1 if the last scrape of the target succeeded.", ("job", "instance")),
        ("scrape_samples_scraped", "gauge", "Samples the target exposed.", ("job", "instance")),
        ("scrape_duration_seconds", "gauge", "Duration of the scrape.", ("job", "instance")),
        ("ALERTS", "gauge", "Active alerts.", ("alertname", "alertstate")),
        ("ALERTS_FOR_STATE", "gauge", "Start time of pending or firing alerts.", ("alertname",)),
        ("prometheus_rule_evaluation_failures_total", "counter", "Failed rule evaluations.", ("rule_group",)),
        ("prometheus_rule_evaluations_total", "counter", "Rule evaluations.", ("rule_group",)),
        ("prometheus_rule_group_last_duration_seconds", "gauge", "Last rule group evaluation time.", ("rule_group",)),
        ("prometheus_config_last_reload_successful", "gauge", "Whether the last config reload succeeded.", ()),
        ("prometheus_notifications_errors_total", "counter", "Errors sending alerts to Alertmanager.", ("alertmanager",)),
        ("prometheus_notifications_sent_total", "counter", "Alerts sent to Alertmanager.", ("alertmanager",)),
        ("prometheus_notifications_dropped_total", "counter", "Alerts dropped before sending.", ()),
        ("prometheus_notifications_queue_length", "gauge", "Alerts in the notification queue.", ()),
        ("prometheus_notifications_queue_capacity", "gauge", "Capacity of the notification queue.", ()),
        ("prometheus_tsdb_head_series", "gauge", "Series in the head block.", ()),
        ("prometheus_target_scrapes_exceeded_sample_limit_total", "counter", "Scrapes over the sample limit.", ()),
    ],
)

ALERTMANAGER_METRICS = _family(
    "alertmanager",
    [
        ("alertmanager_notifications_total", "counter", "Notifications attempted.", ("integration",)),
        ("alertmanager_notifications_failed_total", "counter", "Notifications that failed.", ("integration",)),
        ("alertmanager_config_last_reload_successful", "gauge", "Whether the last config reload succeeded.", ()),
        ("alertmanager_alerts", "gauge", "Alerts by state.", ("state",)),
    ],
)

# Third-party exporters the stack scrapes. Names as the Debian 12 packages export them
# (postgres_exporter 0.11, redis_exporter 1.45, node_exporter 1.5, blackbox_exporter 0.23), which the
# tests scrape for real; the compose stack pins newer images of three of them (postgres-exporter
# 0.15, redis_exporter 1.62, node-exporter 1.8.2: obs.renderers.compose), not scraped here, so a bump
# there needs these names checked against the new release. Some expose monotonic
# values as gauges without `_total` (pg_stat_database_deadlocks, node_vmstat_pgmajfault): they are
# declared with the type the exporter gives them, and read with rate()/increase() all the same.

POSTGRES_METRICS = _family(
    "postgres_exporter",
    [
        ("pg_up", "gauge", "Whether the last scrape could connect to PostgreSQL.", ()),
        ("pg_settings_max_connections", "gauge", "max_connections setting.", ()),
        ("pg_stat_database_numbackends", "gauge", "Backends connected to the database.", ("datname",)),
        ("pg_stat_database_deadlocks", "gauge", "Deadlocks detected.", ("datname",)),
        ("pg_stat_database_xact_commit", "gauge", "Committed transactions.", ("datname",)),
        ("pg_stat_database_xact_rollback", "gauge", "Rolled back transactions.", ("datname",)),
        ("pg_stat_database_blks_hit", "gauge", "Buffer cache hits.", ("datname",)),
        ("pg_stat_database_blks_read", "gauge", "Disk blocks read.", ("datname",)),
        ("pg_stat_activity_count", "gauge", "Connections by state.", ("datname", "state")),
        ("pg_stat_activity_max_tx_duration", "gauge", "Longest running transaction in seconds.", ("datname", "state")),
        ("pg_database_size_bytes", "gauge", "Disk space used by the database.", ("datname",)),
        ("pg_locks_count", "gauge", "Locks by mode.", ("datname", "mode")),
        # From the custom queries obs renders for postgres_exporter (obs.renderers.exporters).
        ("pg_long_running_transactions_count", "gauge", "Transactions open for more than 5 minutes.", ("datname",)),
        ("pg_long_running_transactions_max_age_seconds", "gauge", "Age in seconds of the oldest transaction open for more than 5 minutes.", ("datname",)),
    ],
)

REDIS_METRICS = _family(
    "redis_exporter",
    [
        ("redis_up", "gauge", "Whether the last scrape could reach Redis.", ()),
        ("redis_memory_used_bytes", "gauge", "Memory used by Redis.", ()),
        ("redis_memory_max_bytes", "gauge", "maxmemory setting (0 = unlimited).", ()),
        ("redis_evicted_keys_total", "counter", "Keys evicted because of maxmemory.", ()),
        ("redis_rejected_connections_total", "counter", "Connections rejected because of maxclients.", ()),
        ("redis_connected_clients", "gauge", "Connected clients.", ()),
        ("redis_config_maxclients", "gauge", "maxclients setting.", ()),
        ("redis_commands_processed_total", "counter", "Commands processed.", ()),
        ("redis_commands_duration_seconds_total", "counter", "Time spent in commands.", ("cmd",)),
        ("redis_commands_total", "counter", "Calls by command.", ("cmd",)),
        ("redis_keyspace_hits_total", "counter", "Keyspace hits.", ()),
        ("redis_keyspace_misses_total", "counter", "Keyspace misses.", ()),
        ("redis_db_keys", "gauge", "Keys per database.", ("db",)),
    ],
)

NODE_METRICS = _family(
    "node_exporter",
    [
        ("node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users.", ("device", "fstype", "mountpoint")),
        ("node_filesystem_size_bytes", "gauge", "Filesystem size.", ("device", "fstype", "mountpoint")),
        ("node_filesystem_readonly", "gauge", "Filesystem read-only status.", ("device", "fstype", "mountpoint")),
        ("node_memory_MemAvailable_bytes", "gauge", "Memory available.", ()),
        ("node_memory_MemTotal_bytes", "gauge", "Total memory.", ()),
        ("node_cpu_seconds_total", "counter", "CPU time by mode.", ("cpu", "mode")),
        ("node_load1", "gauge", "1m load average.", ()),
        ("node_vmstat_pgmajfault", "gauge", "Major page faults.", ()),
        ("node_pressure_memory_waiting_seconds_total", "counter", "Time processes waited for memory.", ()),
        ("node_network_receive_bytes_total", "counter", "Bytes received.", ("device",)),
        ("node_network_transmit_bytes_total", "counter", "Bytes sent.", ("device",)),
        ("node_disk_io_time_seconds_total", "counter", "Time spent doing I/O.", ("device",)),
    ],
)

BLACKBOX_METRICS = _family(
    "blackbox_exporter",
    [
        ("probe_success", "gauge", "Whether the probe succeeded.", ()),
        ("probe_duration_seconds", "gauge", "Duration of the probe.", ()),
        ("probe_http_status_code", "gauge", "HTTP status code of the probe.", ()),
        ("probe_http_duration_seconds", "gauge", "Duration of each HTTP phase.", ("phase",)),
        ("probe_ssl_earliest_cert_expiry", "gauge", "Earliest TLS certificate expiry (unix seconds).", ()),
        ("probe_dns_lookup_time_seconds", "gauge", "DNS lookup time.", ()),
    ],
)


ALL_METRICS: tuple[Metric, ...] = (
    *OBS_METRICS,
    *PROMETHEUS_METRICS,
    *ALERTMANAGER_METRICS,
    *POSTGRES_METRICS,
    *REDIS_METRICS,
    *NODE_METRICS,
    *BLACKBOX_METRICS,
)


def _index(metrics: Iterable[Metric]) -> Mapping[str, Metric]:
    index: dict[str, Metric] = {}
    for metric in metrics:
        for series in metric.series_names:
            if series in index:
                raise ValueError(f"metric series {series!r} is declared twice in the contract")
            index[series] = metric
    return index


#: Every selectable series name → the family that declares it.
SERIES_INDEX: Mapping[str, Metric] = _index(ALL_METRICS)


def known_series_names() -> frozenset[str]:
    """Every metric name a PromQL selector may use without further declaration."""
    return frozenset(SERIES_INDEX)


# --- logs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogField:
    """One field of the JSON log lines the instrumentation writes (ECS-compatible name)."""

    name: str
    type: Literal["date", "keyword", "text", "long", "integer", "float", "ip"]
    description: str
    required: bool = False
    access_only: bool = False
    #: Free text or request data: redacted by the instrumentation, and again by the pipelines for
    #: lines from services that did not.
    redacted: bool = False


ECS_VERSION = "8.11.0"

LOG_FIELDS: tuple[LogField, ...] = (
    LogField("@timestamp", "date", "When the event happened, RFC 3339 UTC with milliseconds.", required=True),
    LogField("log.level", "keyword", "Lower-case level: debug, info, warning, error, critical.", required=True),
    LogField("log.logger", "keyword", "Name of the Python logger.", required=True),
    LogField("message", "text", "Human-readable message (redacted).", required=True, redacted=True),
    LogField("ecs.version", "keyword", "ECS version the fields follow.", required=True),
    LogField("event.dataset", "keyword", "Log class: access, application or audit.", required=True),
    LogField("service.name", "keyword", "Service that wrote the line.", required=True),
    LogField("service.version", "keyword", "Version of the service."),
    LogField("service.environment", "keyword", "Deployment environment (dev, staging, prod).", required=True),
    LogField("trace.id", "keyword", "W3C trace id (32 hex) of the active span, if any."),
    LogField("span.id", "keyword", "W3C span id (16 hex) of the active span, if any."),
    LogField("http.request.method", "keyword", "Normalized HTTP method.", access_only=True),
    LogField("http.route", "keyword", "Route template that matched (never the raw path).", access_only=True),
    LogField("http.response.status_code", "integer", "HTTP status code.", access_only=True),
    LogField("event.duration", "long", "Request duration in nanoseconds (ECS).", access_only=True),
    LogField("url.path", "keyword", "Request path with query string and personal data redacted.", access_only=True, redacted=True),
    LogField("error.type", "keyword", "Exception class, when the request failed."),
    LogField("error.message", "text", "Exception message (redacted), when the request failed.", redacted=True),
    LogField("error.stack_trace", "text", "Stack trace of a logged exception (redacted).", redacted=True),
)

LOG_FIELD_INDEX: Mapping[str, LogField] = {f.name: f for f in LOG_FIELDS}
TRACE_ID_FIELD = "trace.id"
SPAN_ID_FIELD = "span.id"
#: The logger the request access lines are written to (pipelines and dashboards may select on it).
ACCESS_LOGGER = "obs.access"
LOG_CLASS_FIELD = "event.dataset"
LOG_CLASSES: tuple[str, ...] = ("access", "application", "audit")


# --- redaction ----------------------------------------------------------------------------------

REDACTED = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class RedactionRule:
    """A pattern replaced by ``REDACTED`` in log messages, span attributes and pipeline filters.

    Patterns stay in the subset that Python ``re``, Ruby/Oniguruma (Fluentd, Logstash) and Go RE2
    (OpenTelemetry Collector) all read the same way: no look-around, no back-references, no named
    groups, no possessive quantifiers.
    """

    name: str
    pattern: str
    description: str
    examples: tuple[str, ...] = field(default=())
    #: Substrings one of which every match contains (lower-case for an ``(?i)`` pattern): a text
    #: holding none of them cannot match, so the instrumentation's hot path skips the regex. Empty:
    #: the pattern is always run. Checked against generated matches in tests/foundation.
    clues: tuple[str, ...] = field(default=())
    #: A pattern that finds a match in exactly the texts ``pattern`` does, cheaper to search: what
    #: the hot path asks of a rule without clues ("can this text match at all?"). Empty: the
    #: pattern itself. Checked against generated matches and texts in tests/foundation.
    detector: str = ""

    @property
    def ignore_case(self) -> bool:
        return self.pattern.startswith("(?i)")

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def compiled_detector(self) -> re.Pattern[str]:
        return re.compile(self.detector or self.pattern)


#: Keys whose values are credentials, in ``key=value`` and JSON-style text (one alternation, kept
#: in the pattern subset every engine reads alike). ``(?:j|php)?sess(?:ion)?(?:[_-]?id)?`` covers
#: ``session``, ``session_id``, Java's ``;jsessionid=`` path parameter and PHP's ``PHPSESSID``.
_SECRET_KEYS = (
    r"password|passwd|pwd|access_token|refresh_token|client_secret|secret|token|api[_-]?key"
    r"|(?:j|php)?sess(?:ion)?(?:[_-]?id)?"
)

REDACTION_RULES: tuple[RedactionRule, ...] = (
    RedactionRule(
        "email",
        # "@" also percent-encoded once (%40) or twice (%2540): paths and logged URLs carry both.
        r"[A-Za-z0-9._%+-]+(?:@|%40|%2540)[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        "E-mail addresses (students, parents, staff), also percent-encoded once or twice.",
        ("alice.smith@school.example", "parent+1@mail.example.org", "frank.pii%40example.com", "frank.pii%2540example.com"),
        clues=("@", "%40", "%2540"),
    ),
    RedactionRule(
        "bearer_token",
        r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+",
        "Credentials in Authorization-style values.",
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "basic dXNlcjpwYXNz"),
        clues=("bearer", "basic"),
    ),
    RedactionRule(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*",
        "JSON Web Tokens anywhere in text.",
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",),
        clues=("eyJ",),
    ),
    RedactionRule(
        "json_secret",
        # The whole "key": value pair, the value a double- or single-quoted string (escapes
        # included) or a bare token: JSON bodies and Python dict reprs in log messages.
        rf"(?i)[\"'][a-z0-9_.-]*(?:{_SECRET_KEYS}|authorization|cookie)[\"']\s*:\s*"
        r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^,}\s]+)",
        "JSON- and dict-style credentials in messages: \"password\": \"...\", 'token': '...'.",
        ('{"user": "bob", "password": "hunter2"}', "{'api_key': 'abc123'}", '"client_secret":"s\\"3"'),
        clues=('"', "'"),
    ),
    RedactionRule(
        "secret_param",
        # "=" also percent-encoded once (%3D) or twice (%253D).
        rf"(?i)(?:{_SECRET_KEYS})\s*(?:=|%3d|%253d)\s*[^&\s\"']+",
        "key=value credentials in URLs, path parameters (;jsessionid=), form bodies and messages.",
        ("password=hunter2", "api_key=abc123", "/shop;jsessionid=0AB12CD34", "password%3Dhunter2", "token%253Dabc"),
        clues=("=", "%3d", "%253d"),
    ),
    RedactionRule(
        "url_credentials",
        r"://[^/\s:@]+:[^/\s@]+@",
        "user:password@ in URLs.",
        ("postgresql://app:s3cret@db:5432/app",),
        clues=("://",),
    ),
    RedactionRule(
        "phone",
        r"\+?[0-9][0-9 ().-]{8,}[0-9]",
        "Telephone numbers (parents' contact details).",
        ("+44 20 7946 0958", "(555) 123-4567"),
        # Without the optional "+" the pattern starts with a digit, which the regex engine skips
        # to: 40 % fewer instructions on paths full of ids (16.5k -> 10.3k on a 40-character path).
        detector=r"[0-9][0-9 ().-]{8,}[0-9]",
    ),
)

#: Headers never recorded, in any sink (lower-case).
SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key", "x-auth-token", "x-csrf-token"}
)
#: Span/log attribute keys whose whole value is dropped (the key stays, value becomes REDACTED).
SENSITIVE_ATTRIBUTE_KEYS: frozenset[str] = frozenset(
    {
        "http.request.header.authorization",
        "http.request.header.cookie",
        "http.response.header.set-cookie",
        "url.query",
        "user.email",
        "user.name",
        "user.full_name",
        "enduser.id",
        "client.address",
        "net.peer.ip",
        "http.client_ip",
    }
)


def redact(text: str, rules: Iterable[RedactionRule] = REDACTION_RULES) -> str:
    """Apply every redaction rule to ``text``. Cheap when nothing matches."""
    for pattern in _compiled_rules(tuple(rules)):
        text = pattern.sub(REDACTED, text)
    return text


_COMPILED: dict[tuple[RedactionRule, ...], tuple[re.Pattern[str], ...]] = {}


def _compiled_rules(rules: tuple[RedactionRule, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = _COMPILED.get(rules)
    if compiled is None:
        compiled = _COMPILED[rules] = tuple(r.compiled() for r in rules)
    return compiled


def strip_query(target: str) -> str:
    """Drop the query string and fragment of a path or URL (they carry personal data)."""
    cut = len(target)
    for sep in ("?", "#"):
        i = target.find(sep)
        if i != -1 and i < cut:
            cut = i
    return target[:cut]


__all__ = [
    "ACCESS_LOGGER",
    "ALL_METRICS",
    "ALERTMANAGER_METRICS",
    "BLACKBOX_HTTP_MODULE",
    "BLACKBOX_METRICS",
    "ECS_VERSION",
    "ENVIRONMENT_LABEL",
    "ENVIRONMENT_RESOURCE_ATTRIBUTE",
    "HEALTH_ROUTES",
    "HTTP_DURATION_BUCKETS",
    "HTTP_METRIC_LABELS",
    "HTTP_SERVER_ACTIVE",
    "HTTP_SERVER_DURATION",
    "HTTP_SERVER_REQUESTS",
    "INSTRUMENTATION_ERRORS",
    "INSTRUMENTATION_ERROR_STAGES",
    "KNOWN_METHODS",
    "LOG_CLASSES",
    "LOG_CLASS_FIELD",
    "LOG_FIELDS",
    "LOG_FIELD_INDEX",
    "LOG_RECORDS_DROPPED",
    "LogField",
    "METHOD_LABEL",
    "Metric",
    "NAMESPACE_LABEL",
    "NODE_METRICS",
    "OBS_METRICS",
    "OTHER_METHOD",
    "POD_LABEL",
    "POSTGRES_METRICS",
    "PROMETHEUS_METRICS",
    "REDACTED",
    "REDACTION_RULES",
    "REDIS_METRICS",
    "ROUTE_LABEL",
    "RedactionRule",
    "SENSITIVE_ATTRIBUTE_KEYS",
    "SENSITIVE_HEADERS",
    "SERIES_INDEX",
    "SERVICE_LABEL",
    "SLO_THRESHOLDS_SECONDS",
    "SPAN_ID_FIELD",
    "STATUS_LABEL",
    "TARGET_INFO",
    "TARGET_INFO_ENVIRONMENT_LABEL",
    "TEAM_LABEL",
    "TRACE_ID_FIELD",
    "TRACE_SPANS_DROPPED",
    "TRACE_SPANS_EXPORTED",
    "TRACE_SPAN_DROP_REASONS",
    "UNMATCHED_ROUTE",
    "format_bucket",
    "known_series_names",
    "normalize_method",
    "redact",
    "strip_query",
]
