"""The typed model of a platform: the single source every artifact is rendered from.

Objects are frozen dataclasses validated when built. A wrong value raises
:class:`~obs.errors.ModelError` naming the path of the field and the fix, e.g.
``slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)``. Loaders (YAML) and
containers prefix the path with where the object sits (``services[bridge].``).

The model knows nothing of YAML, JSON, PromQL or Grafana: renderers read it, it reads no renderer.
Field ``metadata["doc"]`` strings feed ``obs schema``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from obs import contract
from obs.errors import ModelError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ROUTE = re.compile(r"^/\S*$")
_URL = re.compile(r"^https?://\S+$")

#: Where Alertmanager's secrets are mounted when the model names no folder for them.
DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
#: The audit trail and ticket bot every alert is also sent to, when the platform names no other.
DEFAULT_ALERT_WEBHOOK_URL = "http://alert-log:9095/alerts"
#: The team that owns shared infrastructure jobs (node, blackbox probes, Prometheus, Alertmanager).
DEFAULT_INFRA_TEAM = "platform"


def doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with a description for the JSON Schema."""
    return field(metadata={"doc": text}, **kwargs)


def _freeze_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _check_name(value: str, path: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ModelError(
            path,
            f"{value!r} is not a valid {what} name",
            "use lower-case letters, digits and '-', starting with a letter, at most 40 characters, e.g. 'backend'",
        )


def _check_unique(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ModelError(
                f"{path}[{name}]", f"duplicate {what} name {name!r}", f"give each {what} a unique name"
            )
        seen.add(name)


def _check_url(value: str, path: str, example: str) -> None:
    if not isinstance(value, str) or not _URL.match(value):
        raise ModelError(path, f"{value!r} is not an http(s) URL", f"e.g. {example!r}")


def _check_endpoint(value: str, path: str, example: str) -> None:
    """A gRPC endpoint given as an http(s) URL with a port and nothing after it."""
    parts = urlsplit(value) if isinstance(value, str) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
    ):
        raise ModelError(
            path, f"{value!r} is not http(s)://host:port (the scheme says whether it is TLS)", f"e.g. {example!r}"
        )


def _check_file(value: str, path: str, example: str) -> None:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ModelError(path, f"{value!r} is not an absolute path", f"e.g. {example!r}")


def _reference_fix(value: str, known: Collection[str], add: str) -> str:
    """The fix for a name that refers to nothing: the close match if there is one, else the choices."""
    close = difflib.get_close_matches(value, sorted(known), n=1) if isinstance(value, str) else []
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{add} or use one of {', '.join(sorted(known))}"


# --- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, path: str = "") -> int:
    """Seconds in a Prometheus-style duration with one unit (``5m``, ``30d``)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ModelError(
            path, f"{value!r} is not a duration", "write a number and one unit of s, m, h, d, w, e.g. '30d'"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact Prometheus duration for ``seconds`` (``3600`` → ``1h``)."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0 and seconds >= _UNIT_SECONDS[unit]:
            if unit == "w" and seconds % _UNIT_SECONDS["d"] == 0:
                # Days read better than weeks in SLO windows (28d rather than 4w).
                return f"{seconds // _UNIT_SECONDS['d']}d"
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


# --- SLOs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvailabilitySLI:
    """Good events are responses whose status does not match ``error_status_regex``; total is all
    responses of the service's HTTP duration histogram."""

    type: ClassVar[str] = "availability"
    error_status_regex: str = doc("Status codes counted as errors (a PromQL regex).", default="5..")

    def __post_init__(self) -> None:
        try:
            re.compile(self.error_status_regex)
        except re.error as exc:
            raise ModelError(
                "error_status_regex", f"{self.error_status_regex!r} is not a regex: {exc}", "e.g. '5..'"
            ) from exc


@dataclass(frozen=True, slots=True)
class LatencySLI:
    """Good events are requests that finished within ``threshold_seconds``; the threshold must be a
    bucket boundary of the contract's duration histogram so the count is exact."""

    type: ClassVar[str] = "latency"
    threshold_seconds: float = doc("Requests faster than this are good. Must be a histogram bucket boundary.")

    def __post_init__(self) -> None:
        if float(self.threshold_seconds) not in contract.HTTP_DURATION_BUCKETS:
            bounds = ", ".join(f"{b:g}" for b in contract.HTTP_DURATION_BUCKETS)
            raise ModelError(
                "threshold_seconds",
                f"{self.threshold_seconds!r} is not a bucket boundary of {contract.HTTP_SERVER_DURATION.name}",
                f"choose one of {bounds}",
            )

    @property
    def le(self) -> str:
        """The ``le`` label value of the bucket that counts good events."""
        return contract.format_bucket(float(self.threshold_seconds))


SLI = AvailabilitySLI | LatencySLI


@dataclass(frozen=True, slots=True)
class SLO:
    """A service level objective over a rolling window."""

    name: str = doc("Name, unique within the service, e.g. 'availability'.")
    sli: SLI = doc(
        "What counts as a good event: {type: availability} or {type: latency, threshold_seconds: 0.3}."
    )
    objective: float = doc("Target fraction of good events, strictly between 0 and 1, e.g. 0.999.")
    window: str = doc("Rolling window of the objective.", default="30d")
    description: str = doc("What users feel when this SLO is missed.", default="")
    min_request_rate: float = doc(
        "Low-traffic guard: SLO alerts stay silent below this many requests per second.", default=0.05
    )
    page: bool = doc("Whether fast burn pages (true) or only opens a ticket (false).", default=True)
    exclude_routes: tuple[str, ...] = doc(
        "Route templates left out of the SLI (e.g. admin exports).", default=()
    )

    def __post_init__(self) -> None:
        here = f"slos[{self.name}]"
        _check_name(self.name, f"{here}.name", "SLO")
        if not isinstance(self.sli, AvailabilitySLI | LatencySLI):
            raise ModelError(
                f"{here}.sli",
                f"{self.sli!r} is not an SLI",
                "use AvailabilitySLI() or LatencySLI(threshold_seconds=0.3)",
            )
        if (
            isinstance(self.objective, bool)
            or not isinstance(self.objective, int | float)
            or not 0 < self.objective < 1
        ):
            raise ModelError(f"{here}.objective", f"{self.objective!r} must be between 0 and 1", "e.g. 0.999")
        seconds = parse_duration(self.window, f"{here}.window")
        if seconds < 86400 * 7:
            raise ModelError(
                f"{here}.window",
                f"{self.window} is shorter than the longest alert window (3d) allows for a useful budget",
                "use at least 7d; 28d or 30d are usual",
            )
        if self.min_request_rate < 0:
            raise ModelError(
                f"{here}.min_request_rate",
                f"{self.min_request_rate} is negative",
                "use 0 to disable the guard, e.g. 0.05",
            )
        object.__setattr__(self, "exclude_routes", tuple(self.exclude_routes))
        for route in self.exclude_routes:
            if not _ROUTE.match(route):
                raise ModelError(
                    f"{here}.exclude_routes", f"{route!r} is not a route template", "e.g. '/admin/export'"
                )

    @property
    def window_seconds(self) -> int:
        return parse_duration(self.window)

    @property
    def error_budget(self) -> float:
        """Fraction of events allowed to be bad over the window."""
        return 1.0 - self.objective


# --- components ---------------------------------------------------------------------------------


class ServiceKind(StrEnum):
    FASTAPI = "fastapi"
    FLASK = "flask"
    STATIC_SITE = "static_site"
    EXTERNAL_APP = "external_app"

    @property
    def instrumented(self) -> bool:
        """Whether the service runs the obs instrumentation (and so exposes the contract's metrics)."""
        return self in (ServiceKind.FASTAPI, ServiceKind.FLASK)


class DependencyKind(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"
    HTTP = "http"

    @property
    def exporter(self) -> str | None:
        return {"postgres": "postgres_exporter", "redis": "redis_exporter"}.get(self.value)

    @property
    def default_exporter_port(self) -> int | None:
        return {"postgres": 9187, "redis": 9121}.get(self.value)


Tier = Literal[1, 2, 3]


@dataclass(frozen=True, slots=True)
class TraceSampling:
    """Head sampling for a service's traces (rendered into Jaeger strategies and the SDK settings)."""

    default_ratio: float = doc("Probability a trace is sampled when no route rule applies.", default=0.1)
    routes: Mapping[str, float] = doc(
        "Route template → probability, for routes that matter more.", default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", _freeze_map(self.routes))
        for key, ratio in [
            ("default_ratio", self.default_ratio),
            *((f"routes[{r}]", p) for r, p in self.routes.items()),
        ]:
            if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 <= ratio <= 1:
                raise ModelError(f"sampling.{key}", f"{ratio!r} must be between 0 and 1", "e.g. 0.1 for 10%")
        for route in self.routes:
            if not _ROUTE.match(route):
                raise ModelError(
                    f"sampling.routes[{route}]", f"{route!r} is not a route template", "e.g. '/api/login'"
                )


@dataclass(frozen=True, slots=True)
class Service:
    """Something users reach: an instrumented API, or a site probed from outside."""

    name: str = doc(
        "Name, unique in the platform; also the Prometheus job and the OpenTelemetry service.name."
    )
    kind: ServiceKind = doc(
        "fastapi or flask (instrumented), static_site or external_app (probed from outside)."
    )
    team: str = doc("Owning team; routes its alerts and names its Grafana folder.")
    tier: Tier = doc(
        "1 = students are blocked when it fails (pages), 2 = degraded (pages in hours), 3 = best effort (tickets only).",
        default=2,
    )
    description: str = doc("One line for humans.", default="")
    port: int = doc("Port the service listens on (its /metrics for instrumented kinds).", default=8000)
    metrics_path: str = doc("Path of the Prometheus endpoint (instrumented kinds).", default="/metrics")
    metrics_port: int = doc("Separate port for /metrics (0: served on `port` by the app).", default=0)
    metrics_token_file: str = doc(
        "File on the Prometheus host holding the bearer token /metrics requires (empty: no token).",
        default="",
    )
    probe_url: str = doc("URL the blackbox exporter probes (probed kinds; optional for others).", default="")
    runbook_base_url: str = doc("Alerts link to <runbook_base_url>#<alertname>.", default="")
    slos: tuple[SLO, ...] = doc("Service level objectives (instrumented kinds).", default=())
    depends_on: tuple[str, ...] = doc("Names of the dependencies and services it calls.", default=())
    sampling: TraceSampling = doc("Trace head sampling.", default_factory=TraceSampling)
    log_fields: tuple[str, ...] = doc(
        "Extra JSON log fields this service emits (kept by the pipelines).", default=()
    )

    def __post_init__(self) -> None:
        here = f"services[{self.name}]"
        _check_name(self.name, f"{here}.name", "service")
        try:
            object.__setattr__(self, "kind", ServiceKind(self.kind))
        except ValueError:
            kinds = ", ".join(k.value for k in ServiceKind)
            raise ModelError(
                f"{here}.kind", f"{self.kind!r} is not a service kind", f"use one of {kinds}"
            ) from None
        _check_name(self.team, f"{here}.team", "team")
        if self.tier not in (1, 2, 3):
            raise ModelError(
                f"{here}.tier",
                f"{self.tier!r} is not a tier",
                "use 1 (critical), 2 (standard) or 3 (best effort)",
            )
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ModelError(f"{here}.port", f"{self.port!r} is not a TCP port", "e.g. 8000")
        if not isinstance(self.metrics_port, int) or not 0 <= self.metrics_port < 65536:
            raise ModelError(
                f"{here}.metrics_port",
                f"{self.metrics_port!r} is not a TCP port",
                "e.g. 9464, or 0 to serve /metrics on `port`",
            )
        if self.metrics_token_file and not self.metrics_token_file.startswith("/"):
            raise ModelError(
                f"{here}.metrics_token_file",
                f"{self.metrics_token_file!r} is not an absolute path",
                "e.g. '/etc/prometheus/secrets/backend-metrics-token'",
            )
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        object.__setattr__(self, "log_fields", tuple(self.log_fields))
        slo_names = [s.name for s in self.slos]
        _check_unique(slo_names, f"{here}.slos", "SLO")
        if self.slos and not self.kind.instrumented:
            raise ModelError(
                f"{here}.slos",
                f"a {self.kind.value} service does not emit request metrics, so it cannot have request SLOs",
                "move the SLOs to an instrumented service or remove them; probes get their own alerts",
            )
        if not self.kind.instrumented and not self.probe_url:
            raise ModelError(
                f"{here}.probe_url",
                f"a {self.kind.value} service is watched by probing it",
                "set probe_url, e.g. 'https://cms.example.org/'",
            )
        if self.probe_url and not re.match(r"^https?://\S+$", self.probe_url):
            raise ModelError(
                f"{here}.probe_url",
                f"{self.probe_url!r} is not an http(s) URL",
                "e.g. 'https://cms.example.org/'",
            )
        if self.runbook_base_url and not re.match(r"^https?://\S+$", self.runbook_base_url):
            raise ModelError(
                f"{here}.runbook_base_url",
                f"{self.runbook_base_url!r} is not an http(s) URL",
                "e.g. 'https://runbooks.example.org/backend'",
            )
        for extra in self.log_fields:
            if extra in contract.LOG_FIELD_INDEX:
                raise ModelError(
                    f"{here}.log_fields",
                    f"{extra!r} is already a standard log field",
                    "list only extra fields",
                )

    def slo(self, name: str) -> SLO:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Dependency:
    """A datastore or upstream the services use, watched through its exporter or a probe."""

    name: str = doc("Name, unique in the platform, e.g. 'postgres'.")
    kind: DependencyKind = doc(
        "postgres, redis (scraped through their exporters) or http (an upstream, probed)."
    )
    team: str = doc("Team that owns it.")
    address: str = doc("host:port of the datastore, or the URL of an http upstream.")
    exporter_address: str = doc(
        "host:port of its exporter (postgres/redis); default '<name>-exporter:<port>'.", default=""
    )
    description: str = doc("One line for humans.", default="")
    runbook_base_url: str = doc("Alerts link to <runbook_base_url>#<alertname>.", default="")

    def __post_init__(self) -> None:
        here = f"dependencies[{self.name}]"
        _check_name(self.name, f"{here}.name", "dependency")
        try:
            object.__setattr__(self, "kind", DependencyKind(self.kind))
        except ValueError:
            kinds = ", ".join(k.value for k in DependencyKind)
            raise ModelError(
                f"{here}.kind", f"{self.kind!r} is not a dependency kind", f"use one of {kinds}"
            ) from None
        _check_name(self.team, f"{here}.team", "team")
        if self.kind is DependencyKind.HTTP:
            if not re.match(r"^https?://\S+$", self.address):
                raise ModelError(
                    f"{here}.address",
                    f"{self.address!r} is not an http(s) URL",
                    "e.g. 'https://api.partner.example/health'",
                )
        elif not re.match(r"^[A-Za-z0-9.-]+:\d+$", self.address):
            raise ModelError(f"{here}.address", f"{self.address!r} is not host:port", "e.g. 'postgres:5432'")
        if not self.exporter_address and self.kind.default_exporter_port:
            object.__setattr__(
                self, "exporter_address", f"{self.name}-exporter:{self.kind.default_exporter_port}"
            )


@dataclass(frozen=True, slots=True)
class Team:
    """Where a team's alerts go. Secrets are file paths or environment references, never literal."""

    name: str = doc("Team name, as used by services and dependencies.")
    chat_channel: str = doc("Chat channel for tickets and resolved notices, e.g. '#edu-backend'.", default="")
    pager_key_file: str = doc("File holding the paging integration key (mounted secret).", default="")
    chat_webhook_url_file: str = doc(
        "File holding the team's Slack incoming-webhook URL (mounted secret; needs chat_channel). "
        f"Empty: '<folder of pager_key_file>/<name>-slack-api-url', or '{DEFAULT_SECRETS_DIR}/<name>-slack-api-url' without a pager key.",
        default="",
    )

    def __post_init__(self) -> None:
        here = f"teams[{self.name}]"
        _check_name(self.name, f"{here}.name", "team")
        if self.pager_key_file:
            _check_file(
                self.pager_key_file, f"{here}.pager_key_file", f"{DEFAULT_SECRETS_DIR}/backend-pager-key"
            )
        if self.chat_webhook_url_file:
            _check_file(
                self.chat_webhook_url_file,
                f"{here}.chat_webhook_url_file",
                f"{DEFAULT_SECRETS_DIR}/{self.name}-slack-api-url",
            )
            if not self.chat_channel:
                raise ModelError(
                    f"{here}.chat_webhook_url_file",
                    "a chat webhook is only used with a chat channel",
                    "set chat_channel, e.g. '#edu-backend', or remove chat_webhook_url_file",
                )

    @property
    def chat_webhook_url_file_or_default(self) -> str:
        """The file Alertmanager reads the team's Slack webhook URL from: ``chat_webhook_url_file``,
        else ``<name>-slack-api-url`` beside the pager key (or in the default secrets folder)."""
        if self.chat_webhook_url_file:
            return self.chat_webhook_url_file
        folder = (
            str(PurePosixPath(self.pager_key_file).parent) if self.pager_key_file else DEFAULT_SECRETS_DIR
        )
        return f"{folder}/{self.name}-slack-api-url"


@dataclass(frozen=True, slots=True)
class ComponentOverride:
    """Per-environment changes to one service or dependency."""

    targets: tuple[str, ...] = doc("host:port scrape targets replacing the default.", default=())
    probe_url: str = doc("Probe URL replacing the service's.", default="")
    sampling_ratio: float | None = doc("Default trace sampling ratio replacing the service's.", default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        for target in self.targets:
            if not re.match(r"^[A-Za-z0-9.-]+:\d+$", target):
                raise ModelError("targets", f"{target!r} is not host:port", "e.g. 'backend-0.prod.svc:8000'")
        if self.sampling_ratio is not None and not 0 <= self.sampling_ratio <= 1:
            raise ModelError(
                "sampling_ratio", f"{self.sampling_ratio!r} must be between 0 and 1", "e.g. 0.05"
            )


@dataclass(frozen=True, slots=True)
class Environment:
    """A deployment of the platform (dev, staging, prod) with its own Prometheus."""

    name: str = doc("Name, e.g. 'prod'; becomes the 'environment' external label.")
    external_labels: Mapping[str, str] = doc(
        "Extra Prometheus external labels (e.g. region).", default_factory=dict
    )
    overrides: Mapping[str, ComponentOverride] = doc(
        "Component name → per-environment override.", default_factory=dict
    )
    paging: bool = doc(
        "Whether page-severity alerts page here (false in dev: they go to chat).", default=True
    )
    scrape_interval: str = doc("Prometheus scrape and rule evaluation interval.", default="30s")
    prometheus_url: str = doc(
        "Base URL of this environment's Prometheus (Grafana datasource); empty: Grafana reads it from OBS_PROMETHEUS_URL_<ENV>.",
        default="",
    )
    log_retention_days: Mapping[str, int] = doc(
        "Log class → days, replacing the platform's retention.", default_factory=dict
    )

    def __post_init__(self) -> None:
        here = f"environments[{self.name}]"
        _check_name(self.name, f"{here}.name", "environment")
        object.__setattr__(self, "external_labels", _freeze_map(self.external_labels))
        object.__setattr__(self, "overrides", _freeze_map(self.overrides))
        object.__setattr__(self, "log_retention_days", _freeze_map(self.log_retention_days))
        for key in self.external_labels:
            if not _LABEL_NAME.match(key):
                raise ModelError(
                    f"{here}.external_labels[{key}]",
                    f"{key!r} is not a label name",
                    "use letters, digits and '_'",
                )
            if key == contract.ENVIRONMENT_LABEL:
                raise ModelError(
                    f"{here}.external_labels[{key}]",
                    "the environment label is set from the environment's name",
                    "remove it",
                )
        _check_retention(self.log_retention_days, f"{here}.log_retention_days")
        if self.prometheus_url and not re.match(r"^https?://\S+$", self.prometheus_url):
            raise ModelError(
                f"{here}.prometheus_url",
                f"{self.prometheus_url!r} is not an http(s) URL",
                "e.g. 'http://prometheus-prod:9090'",
            )
        if parse_duration(self.scrape_interval, f"{here}.scrape_interval") > 300:
            raise ModelError(
                f"{here}.scrape_interval",
                f"{self.scrape_interval} is too long for 5m rate windows",
                "use at most 5m; 15s-60s are usual",
            )

    @property
    def all_external_labels(self) -> Mapping[str, str]:
        return {contract.ENVIRONMENT_LABEL: self.name, **self.external_labels}


def _check_retention(retention: Mapping[str, int], path: str) -> None:
    for cls, days in retention.items():
        if cls not in contract.LOG_CLASSES:
            raise ModelError(
                f"{path}[{cls}]",
                f"{cls!r} is not a log class",
                f"use one of {', '.join(contract.LOG_CLASSES)}",
            )
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ModelError(f"{path}[{cls}]", f"{days!r} is not a number of days", "e.g. 30")


DEFAULT_LOG_RETENTION: Mapping[str, int] = MappingProxyType({"access": 14, "application": 30, "audit": 400})


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything obs renders from: services, dependencies, teams, environments."""

    name: str = doc("Platform name; prefixes dashboards, index names and rule groups.")
    services: tuple[Service, ...] = doc("The services users reach.")
    environments: tuple[Environment, ...] = doc("Deployments; the first is the default for `obs build`.")
    dependencies: tuple[Dependency, ...] = doc("Datastores and upstreams.", default=())
    teams: tuple[Team, ...] = doc(
        "Alert destinations per team. Every team a component or infra_team names must be here.", default=()
    )
    grafana_url: str = doc(
        "Base URL of Grafana, for dashboard links in alerts.", default="http://grafana:3000"
    )
    alertmanager_url: str = doc(
        "Base URL of Alertmanager (Grafana datasource).", default="http://alertmanager:9093"
    )
    jaeger_url: str = doc("Base URL of the Jaeger query UI.", default="http://jaeger:16686")
    jaeger_otlp_endpoint: str = doc(
        "Jaeger's OTLP/gRPC receiver, where the collector sends spans: http://host:port for plaintext, "
        "https://host:port for TLS, e.g. 'http://jaeger-collector.tracing:4317'. The UI's ingress (jaeger_url) "
        "rarely serves gRPC. Empty: jaeger_url's host on port 4317, with jaeger_url's scheme.",
        default="",
    )
    elasticsearch_url: str = doc("Base URL of Elasticsearch.", default="http://elasticsearch:9200")
    node_targets: tuple[str, ...] = doc("host:port of the node exporters.", default=("node-exporter:9100",))
    blackbox_address: str = doc("host:port of the blackbox exporter.", default="blackbox-exporter:9115")
    log_retention_days: Mapping[str, int] = doc(
        "Log class (access, application, audit) → days kept.",
        default_factory=lambda: dict(DEFAULT_LOG_RETENTION),
    )
    dashboard_dirs: tuple[str, ...] = doc(
        "Folders of extra dashboards (grafanalib `*.dashboard.py` modules), checked and provisioned like the generated ones.",
        default=(),
    )
    runbook_base_url: str = doc(
        "Runbooks of what has no runbook_base_url of its own (node, Prometheus, Alertmanager, the probes, "
        "components without one) are at <runbook_base_url>/<component>. "
        "Empty: the origin of the first component runbook URL, e.g. 'https://runbooks.example.org'.",
        default="",
    )
    alert_webhook_url: str = doc(
        "Webhook every alert is also sent to (audit trail, ticket bot). Written into alertmanager.yml as is "
        "(Alertmanager 0.25 reads no webhook URL from a file), so it must not contain credentials.",
        default=DEFAULT_ALERT_WEBHOOK_URL,
    )
    heartbeat_url: str = doc(
        "External dead man's switch (healthchecks.io, an Opsgenie or PagerDuty heartbeat, Cronitor) that "
        "Alertmanager calls every minute with the always-firing Watchdog alert. The service pages when the calls "
        "stop: the one alert that still reaches someone when Prometheus, Alertmanager or the path between them is "
        "down. Written into alertmanager.yml as is (Alertmanager 0.25 reads no webhook URL from a file). "
        "Empty: no Watchdog.",
        default="",
    )
    infra_team: str = doc(
        "Team that owns the shared infrastructure jobs (node exporters, blackbox probes, Prometheus, Alertmanager) "
        "and gets their alerts. Must be one of teams when teams are declared.",
        default=DEFAULT_INFRA_TEAM,
    )

    def __post_init__(self) -> None:
        _check_name(self.name, "name", "platform")
        for attr in ("services", "environments", "dependencies", "teams", "node_targets", "dashboard_dirs"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        retention = {**DEFAULT_LOG_RETENTION, **dict(self.log_retention_days)}
        _check_retention(retention, "log_retention_days")
        object.__setattr__(self, "log_retention_days", _freeze_map(retention))
        if not self.services:
            raise ModelError("services", "a platform needs at least one service", "add a Service(...)")
        if not self.environments:
            raise ModelError(
                "environments", "a platform needs at least one environment", "add Environment(name='prod')"
            )
        _check_unique(
            [s.name for s in self.services] + [d.name for d in self.dependencies], "services", "component"
        )
        _check_unique([e.name for e in self.environments], "environments", "environment")
        _check_unique([t.name for t in self.teams], "teams", "team")
        components = {c.name for c in self.components()}
        team_names = {t.name for t in self.teams}
        for service in self.services:
            for dep in service.depends_on:
                if dep not in components or dep == service.name:
                    raise ModelError(
                        f"services[{service.name}].depends_on",
                        f"{dep!r} is not a dependency or another service of the platform",
                        f"use one of {', '.join(sorted(others))}"
                        if (others := components - {service.name})
                        else f"add Dependency(name={dep!r}, ...) to dependencies",
                    )
        for comp in self.components():
            if self.teams and comp.team not in team_names:
                where = "services" if isinstance(comp, Service) else "dependencies"
                raise ModelError(
                    f"{where}[{comp.name}].team",
                    f"{comp.team!r} is not a team of the platform",
                    _reference_fix(comp.team, team_names, f"add Team(name={comp.team!r}) to teams"),
                )
        _check_name(self.infra_team, "infra_team", "team")
        if self.teams and self.infra_team not in team_names:
            raise ModelError(
                "infra_team",
                f"{self.infra_team!r} is not a team of the platform",
                _reference_fix(self.infra_team, team_names, f"add Team(name={self.infra_team!r}) to teams"),
            )
        if self.runbook_base_url:
            _check_url(self.runbook_base_url, "runbook_base_url", "https://runbooks.example.org")
        _check_url(self.alert_webhook_url, "alert_webhook_url", DEFAULT_ALERT_WEBHOOK_URL)
        if self.heartbeat_url:
            _check_url(self.heartbeat_url, "heartbeat_url", "https://hc-ping.com/<uuid>")
        if self.jaeger_otlp_endpoint:
            _check_endpoint(self.jaeger_otlp_endpoint, "jaeger_otlp_endpoint", "http://jaeger-collector.tracing:4317")
        if urlsplit(self.alert_webhook_url).username is not None:
            raise ModelError(
                "alert_webhook_url",
                "contains credentials, which would be written into alertmanager.yml in clear",
                "use a URL without credentials; protect the webhook on the network side",
            )
        for env in self.environments:
            for key in env.overrides:
                if key not in components:
                    raise ModelError(
                        f"environments[{env.name}].overrides[{key}]",
                        f"{key!r} is not a service or dependency",
                        f"use one of {', '.join(sorted(components))}",
                    )

    # --- lookups -------------------------------------------------------------------------------

    def components(self) -> Iterator[Service | Dependency]:
        yield from self.services
        yield from self.dependencies

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def environment(self, name: str | None = None) -> Environment:
        if name is None:
            return self.environments[0]
        for env in self.environments:
            if env.name == name:
                return env
        raise ModelError(
            "--env",
            f"{name!r} is not an environment of platform {self.name!r}",
            f"use one of {', '.join(e.name for e in self.environments)}",
        )

    def team(self, name: str) -> Team:
        for t in self.teams:
            if t.name == name:
                return t
        return Team(name=name)

    @property
    def instrumented_services(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.kind.instrumented)

    @property
    def probed_services(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.probe_url)

    @property
    def team_names(self) -> tuple[str, ...]:
        return tuple(sorted({c.team for c in self.components()} | {t.name for t in self.teams}))

    # --- per-environment views -----------------------------------------------------------------

    def scrape_targets(self, component: Service | Dependency, env: Environment) -> tuple[str, ...]:
        override = env.overrides.get(component.name)
        if override and override.targets:
            return override.targets
        if isinstance(component, Service):
            return (f"{component.name}:{component.metrics_port or component.port}",)
        return (component.exporter_address,) if component.exporter_address else ()

    def probe_url(self, service: Service, env: Environment) -> str:
        override = env.overrides.get(service.name)
        return override.probe_url if override and override.probe_url else service.probe_url

    def sampling_ratio(self, service: Service, env: Environment) -> float:
        override = env.overrides.get(service.name)
        if override and override.sampling_ratio is not None:
            return override.sampling_ratio
        return service.sampling.default_ratio

    def log_retention(self, env: Environment) -> Mapping[str, int]:
        return {**self.log_retention_days, **env.log_retention_days}


__all__ = [
    "DEFAULT_ALERT_WEBHOOK_URL",
    "DEFAULT_INFRA_TEAM",
    "DEFAULT_SECRETS_DIR",
    "SLI",
    "SLO",
    "AvailabilitySLI",
    "ComponentOverride",
    "Dependency",
    "DependencyKind",
    "Environment",
    "LatencySLI",
    "Platform",
    "Service",
    "ServiceKind",
    "Team",
    "TraceSampling",
    "format_duration",
    "parse_duration",
]
