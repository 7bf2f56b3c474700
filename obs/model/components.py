"""What a platform is made of: services users reach, the dependencies they use, the teams that
own them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Literal

from obs import contract
from obs.model._base import (
    _ROUTE,
    DEFAULT_SECRETS_DIR,
    NAME_SCHEMA,
    PORT_SCHEMA,
    RATIO_SCHEMA,
    RESERVED_NAMES,
    Problems,
    _check_file,
    _check_host_port,
    _check_name,
    _check_number,
    _check_text,
    _check_unique,
    _check_url,
    _freeze_map,
    doc,
    key_of,
    name_check,
)
from obs.model.slo import SLO
from obs.model.tuning import AlertTuning, check_alert_key


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

    default_ratio: float = doc("Probability a trace is sampled when no route rule applies.", default=0.1, schema=RATIO_SCHEMA)
    routes: Mapping[str, float] = doc(
        "Route template → probability, for routes that matter more.", default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", _freeze_map(self.routes))
        problems = Problems()
        problems.check(_check_number, self.default_ratio, "sampling.default_ratio", 0, 1, "0.1 for 10%")
        for route, ratio in self.routes.items():
            problems.check(_check_number, ratio, f"sampling.routes[{key_of(route)}]", 0, 1, "0.1 for 10%")
            if not isinstance(route, str) or not _ROUTE.fullmatch(route):
                problems.add(f"sampling.routes[{key_of(route)}]", f"{route!r} is not a route template", "e.g. '/api/login'")
        problems.done()


@dataclass(frozen=True, slots=True)
class Autoscaling:
    """How a service's pods scale on Kubernetes (a HorizontalPodAutoscaler)."""

    min_replicas: int = doc("Fewest pods.", default=2, schema={"minimum": 1})
    max_replicas: int = doc("Most pods.", default=10, schema={"minimum": 1})
    cpu_percent: int = doc("Average CPU utilization the autoscaler aims at.", default=70, schema={"minimum": 1, "maximum": 100})
    requests_per_pod: float | None = doc(
        "Requests per second per pod the autoscaler also aims at (served by prometheus-adapter from the "
        "contract's request counter); empty: CPU only.",
        default=None,
    )

    def __post_init__(self) -> None:
        problems = Problems()
        for key in ("min_replicas", "max_replicas", "cpu_percent"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.add(f"autoscaling.{key}", f"{value!r} is not a positive whole number", "e.g. 3")
        if isinstance(self.cpu_percent, int) and self.cpu_percent > 100:
            problems.add("autoscaling.cpu_percent", f"{self.cpu_percent} is over 100", "e.g. 70")
        if isinstance(self.min_replicas, int) and isinstance(self.max_replicas, int) and self.min_replicas > self.max_replicas:
            problems.add("autoscaling.max_replicas", f"{self.max_replicas} is fewer than min_replicas ({self.min_replicas})", "raise max_replicas")
        rate = self.requests_per_pod
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0):
            problems.add("autoscaling.requests_per_pod", f"{rate!r} is not a positive number", "e.g. 50")
        problems.done()


def _check_tunings(tunings: Mapping[str, AlertTuning], path: str, problems: Problems) -> None:
    for key in tunings:
        problems.check(check_alert_key, key, f"{path}[{key_of(key)}]")
        if "/" in key:
            problems.add(f"{path}[{key_of(key)}]", "names a component: the component's own alerts need only the alert name", f"write {key.rpartition('/')[2]!r}")


@dataclass(frozen=True, slots=True)
class Service:
    """Something users reach: an instrumented API, or a site probed from outside."""

    name: str = doc(
        "Name, unique in the platform; also the Prometheus job and the OpenTelemetry service.name.",
        schema=NAME_SCHEMA,
        check=name_check("service"),
    )
    kind: ServiceKind = doc(
        "fastapi or flask (instrumented), static_site or external_app (probed from outside)."
    )
    team: str = doc("Owning team; routes its alerts and names its Grafana folder.", schema=NAME_SCHEMA)
    tier: Tier = doc(
        "1 = students are blocked when it fails (pages), 2 = degraded (pages in hours), 3 = best effort (tickets only).",
        default=2,
    )
    description: str = doc("One line for humans.", default="")
    port: int = doc("Port the service listens on (its /metrics for instrumented kinds).", default=8000, schema=PORT_SCHEMA)
    metrics_path: str = doc("Path of the Prometheus endpoint (instrumented kinds).", default="/metrics", schema={"pattern": r"^/[!-~]*$"})
    metrics_port: int = doc("Separate port for /metrics (0: served on `port` by the app).", default=0, schema={"minimum": 0, "maximum": 65535})
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
    autoscaling: Autoscaling | None = doc("Kubernetes: how its pods scale (a HorizontalPodAutoscaler); empty: no autoscaler.", default=None)
    alerts: Mapping[str, AlertTuning] = doc(
        "Catalogue alert name → tuning for this service (switch off, severity, for, threshold).", default_factory=dict
    )

    def __post_init__(self) -> None:
        here = f"services[{key_of(self.name)}]"
        problems = Problems()
        problems.check(_check_name, self.name, f"{here}.name", "service")
        if isinstance(self.name, str) and self.name in RESERVED_NAMES:
            problems.add(f"{here}.name", f"{self.name!r} is the name of a job or component obs generates", "rename the service, e.g. 'app-" + self.name + "'")
        try:
            object.__setattr__(self, "kind", ServiceKind(self.kind))
        except ValueError:
            kinds = ", ".join(k.value for k in ServiceKind)
            problems.add(f"{here}.kind", f"{self.kind!r} is not a service kind", f"use one of {kinds}")
        problems.check(_check_name, self.team, f"{here}.team", "team")
        if self.tier not in (1, 2, 3) or isinstance(self.tier, bool):
            problems.add(f"{here}.tier", f"{self.tier!r} is not a tier", "use 1 (critical), 2 (standard) or 3 (best effort)")
        problems.check(_check_text, self.description, f"{here}.description")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            problems.add(f"{here}.port", f"{self.port!r} is not a TCP port", "e.g. 8000")
        if isinstance(self.metrics_port, bool) or not isinstance(self.metrics_port, int) or not 0 <= self.metrics_port < 65536:
            problems.add(f"{here}.metrics_port", f"{self.metrics_port!r} is not a TCP port", "e.g. 9464, or 0 to serve /metrics on `port`")
        if not isinstance(self.metrics_path, str) or not _ROUTE.fullmatch(self.metrics_path) or any(c in self.metrics_path for c in "\"'\\`"):
            problems.add(f"{here}.metrics_path", f"{self.metrics_path!r} is not a URL path", "e.g. '/metrics'")
        if self.metrics_token_file:
            problems.check(_check_file, self.metrics_token_file, f"{here}.metrics_token_file", "/etc/prometheus/secrets/backend-metrics-token")
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        object.__setattr__(self, "log_fields", tuple(self.log_fields))
        object.__setattr__(self, "alerts", _freeze_map(self.alerts))
        problems.check(_check_unique, [s.name for s in self.slos], f"{here}.slos", "SLO")
        kind = self.kind if isinstance(self.kind, ServiceKind) else None
        if kind is not None and self.slos and not kind.instrumented:
            problems.add(
                f"{here}.slos",
                f"a {kind.value} service does not emit request metrics, so it cannot have request SLOs",
                "move the SLOs to an instrumented service or remove them; probes get their own alerts",
            )
        if kind is not None and not kind.instrumented and not self.probe_url:
            problems.add(f"{here}.probe_url", f"a {kind.value} service is watched by probing it", "set probe_url, e.g. 'https://cms.example.org/'")
        if self.probe_url:
            problems.check(_check_url, self.probe_url, f"{here}.probe_url", "https://cms.example.org/")
        if self.runbook_base_url:
            problems.check(_check_url, self.runbook_base_url, f"{here}.runbook_base_url", "https://runbooks.example.org/backend")
        for extra in self.log_fields:
            if not isinstance(extra, str) or not _LOG_FIELD.fullmatch(extra):
                problems.add(f"{here}.log_fields", f"{extra!r} is not a log field name", "letters, digits, '_' and '.', e.g. 'course.id'")
            elif extra in contract.LOG_FIELD_INDEX:
                problems.add(f"{here}.log_fields", f"{extra!r} is already a standard log field", "list only extra fields")
        _check_tunings(self.alerts, f"{here}.alerts", problems)
        problems.done()

    def slo(self, name: str) -> SLO:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


#: sslmode values the PostgreSQL exporter's driver (lib/pq) knows; it has no "allow" or "prefer".
#: require (the default) keeps the monitoring password off the network in clear.
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class Dependency:
    """A datastore or upstream the services use, watched through its exporter or a probe."""

    name: str = doc("Name, unique in the platform, e.g. 'postgres'.", schema=NAME_SCHEMA, check=name_check("dependency"))
    kind: DependencyKind = doc(
        "postgres, redis (scraped through their exporters) or http (an upstream, probed)."
    )
    team: str = doc("Team that owns it.", schema=NAME_SCHEMA)
    address: str = doc("host:port of the datastore, or the URL of an http upstream.")
    exporter_address: str = doc(
        "host:port Prometheus scrapes its exporter at (postgres/redis); default '<name>-exporter:<port>'.", default=""
    )
    exporter_listen: str = doc(
        "host:port its exporter binds (postgres/redis); default: exporter_address (the exporter's own name).", default=""
    )
    sslmode: str = doc("PostgreSQL: the exporter's sslmode.", default="require", schema={"enum": list(SSL_MODES)})
    description: str = doc("One line for humans.", default="")
    runbook_base_url: str = doc("Alerts link to <runbook_base_url>#<alertname>.", default="")
    alerts: Mapping[str, AlertTuning] = doc(
        "Catalogue alert name → tuning for this dependency (switch off, severity, for, threshold).", default_factory=dict
    )

    def __post_init__(self) -> None:
        here = f"dependencies[{key_of(self.name)}]"
        problems = Problems()
        problems.check(_check_name, self.name, f"{here}.name", "dependency")
        if isinstance(self.name, str) and self.name in RESERVED_NAMES:
            problems.add(f"{here}.name", f"{self.name!r} is the name of a job or component obs generates", "rename the dependency, e.g. 'main-" + self.name + "'")
        kind: DependencyKind | None = None
        try:
            kind = DependencyKind(self.kind)
            object.__setattr__(self, "kind", kind)
        except ValueError:
            kinds = ", ".join(k.value for k in DependencyKind)
            problems.add(f"{here}.kind", f"{self.kind!r} is not a dependency kind", f"use one of {kinds}")
        problems.check(_check_name, self.team, f"{here}.team", "team")
        problems.check(_check_text, self.description, f"{here}.description")
        if kind is DependencyKind.HTTP:
            problems.check(_check_url, self.address, f"{here}.address", "https://api.partner.example/health")
        elif kind is not None:
            problems.check(_check_host_port, self.address, f"{here}.address", "postgres:5432")
        if kind is not None and not self.exporter_address and kind.default_exporter_port:
            object.__setattr__(self, "exporter_address", f"{self.name}-exporter:{kind.default_exporter_port}")
        if self.exporter_address:
            problems.check(_check_host_port, self.exporter_address, f"{here}.exporter_address", "postgres-exporter:9187")
        if not self.exporter_listen and self.exporter_address:
            object.__setattr__(self, "exporter_listen", self.exporter_address)
        if self.exporter_listen:
            problems.check(_check_host_port, self.exporter_listen, f"{here}.exporter_listen", "127.0.0.1:9187")
        if self.sslmode not in SSL_MODES:
            problems.add(f"{here}.sslmode", f"{self.sslmode!r} is not an sslmode", f"use one of {', '.join(SSL_MODES)}")
        if self.runbook_base_url:
            problems.check(_check_url, self.runbook_base_url, f"{here}.runbook_base_url", "https://runbooks.example.org/postgres")
        object.__setattr__(self, "alerts", _freeze_map(self.alerts))
        _check_tunings(self.alerts, f"{here}.alerts", problems)
        problems.done()


#: A Slack channel name: what Slack itself accepts (lower-case, digits, '-', '_', '.').
_CHANNEL = re.compile(r"[#@]?[a-z0-9][a-z0-9._-]{0,79}", re.ASCII)
_LOG_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}", re.ASCII)
#: An address Alertmanager can mail: one @, no spaces, quotes or angle brackets.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&*+/=?^_{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", re.ASCII)


@dataclass(frozen=True, slots=True)
class Team:
    """Where a team's alerts go. Secrets are file paths or environment references, never literal."""

    name: str = doc("Team name, as used by services and dependencies.", schema=NAME_SCHEMA, check=name_check("team"))
    chat_channel: str = doc(
        "Chat channel for tickets and resolved notices, e.g. '#edu-backend'.", default="", schema={"pattern": r"^$|^[#@]?[a-z0-9][a-z0-9._-]{0,79}$"}
    )
    pager_key_file: str = doc("File holding the paging integration key (mounted secret).", default="", schema={"pattern": r"^$|^/"})
    chat_webhook_url_file: str = doc(
        "File holding the team's Slack incoming-webhook URL (mounted secret; needs chat_channel). "
        f"Empty: '<folder of pager_key_file>/<name>-slack-api-url', or '{DEFAULT_SECRETS_DIR}/<name>-slack-api-url' without a pager key.",
        default="",
        schema={"pattern": r"^$|^/"},
    )
    email: str = doc(
        "Address the team's pages and tickets are also mailed to (needs the platform's smtp_smarthost and smtp_from).",
        default="",
        schema={"pattern": r"^$|^[^@\s]+@[^@\s]+$"},
    )
    webhook_url: str = doc(
        "Generic webhook the team's pages and tickets are also sent to (Alertmanager's JSON payload; a ticket "
        "bot, an incident tool). Written into alertmanager.yml as is, so it must not contain credentials.",
        default="",
    )

    def __post_init__(self) -> None:
        here = f"teams[{key_of(self.name)}]"
        problems = Problems()
        problems.check(_check_name, self.name, f"{here}.name", "team")
        if self.chat_channel and (not isinstance(self.chat_channel, str) or not _CHANNEL.fullmatch(self.chat_channel)):
            problems.add(f"{here}.chat_channel", f"{self.chat_channel!r} is not a chat channel name", "lower-case letters, digits, '-', '_' and '.', e.g. '#edu-backend'")
        if self.pager_key_file:
            problems.check(_check_file, self.pager_key_file, f"{here}.pager_key_file", f"{DEFAULT_SECRETS_DIR}/backend-pager-key")
        if self.chat_webhook_url_file:
            problems.check(_check_file, self.chat_webhook_url_file, f"{here}.chat_webhook_url_file", f"{DEFAULT_SECRETS_DIR}/{self.name}-slack-api-url")
            if not self.chat_channel:
                problems.add(
                    f"{here}.chat_webhook_url_file",
                    "a chat webhook is only used with a chat channel",
                    "set chat_channel, e.g. '#edu-backend', or remove chat_webhook_url_file",
                )
        if self.email and (not isinstance(self.email, str) or not _EMAIL.fullmatch(self.email)):
            problems.add(f"{here}.email", f"{self.email!r} is not an e-mail address", "e.g. 'learning-oncall@example.org'")
        if self.webhook_url:
            problems.check(
                _check_url, self.webhook_url, f"{here}.webhook_url", "https://tickets.example.org/hooks/alertmanager",
                "use a URL without credentials (it is written into alertmanager.yml); protect the webhook on the network side",
            )  # fmt: skip
        problems.done()

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

