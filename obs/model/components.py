"""What a platform is made of: services users reach, the dependencies they use, the teams that
own them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Literal

from obs import contract
from obs.errors import ModelError
from obs.model._base import (
    _ROUTE,
    DEFAULT_SECRETS_DIR,
    _check_file,
    _check_name,
    _check_unique,
    _freeze_map,
    doc,
)
from obs.model.slo import SLO


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

