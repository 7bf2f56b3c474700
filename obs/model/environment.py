"""Environments: the deployments of a platform (dev, staging, prod), each with its own Prometheus,
and what differs between them: where they run, every address, per-component overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from obs import contract
from obs.errors import ModelError
from obs.model._base import (
    _LABEL_NAME,
    HOST_PORT_SCHEMA,
    NAME_SCHEMA,
    POSITIVE_DURATION_SCHEMA,
    Problems,
    _check_endpoint,
    _check_host_port,
    _check_name,
    _check_number,
    _check_url,
    _freeze_map,
    doc,
    key_of,
    name_check,
    parse_duration,
)
from obs.model.components import SSL_MODES, Autoscaling
from obs.model.runtime import Compose, Kubernetes, Local, Runtime, check_labels, check_port_name
from obs.model.store import MetricsStore
from obs.model.tuning import AlertTuning, check_alert_key

_LOOPBACK = ("127.", "localhost", "[::1]", "::1")
#: The URL fields of an environment, each with the example its error gives.
_URL_EXAMPLES = {
    "prometheus_url": "http://prometheus-prod:9090",
    "grafana_url": "https://grafana.example.org",
    "alertmanager_url": "http://alertmanager:9093",
    "jaeger_url": "https://jaeger.example.org",
    "elasticsearch_url": "http://elasticsearch:9200",
    "audit_alertmanager_url": "http://alertmanager-audit:9093",
    "pagerduty_url": "https://events.pagerduty.com/v2/enqueue",
}
#: The host:port fields, likewise.
_ADDRESS_EXAMPLES = {"blackbox_address": "127.0.0.1:9115", "prometheus_address": "127.0.0.1:9090", "smtp_smarthost": "smtp.example.org:587"}


@dataclass(frozen=True, slots=True)
class ComponentOverride:
    """Per-environment changes to one service or dependency."""

    targets: tuple[str, ...] = doc("host:port scrape targets replacing the default (Compose).", default=(), schema={"items": HOST_PORT_SCHEMA})
    probe_url: str = doc("Probe URL replacing the service's.", default="")
    sampling_ratio: float | None = doc("Default trace sampling ratio replacing the service's.", default=None)
    address: str = doc("Dependencies: host:port of the datastore here (its exporter connects to it).", default="")
    exporter_address: str = doc("Dependencies: host:port Prometheus scrapes the exporter at here.", default="")
    exporter_listen: str = doc("Dependencies: host:port the exporter binds here.", default="")
    sslmode: str = doc("PostgreSQL: the exporter's sslmode here.", default="", schema={"enum": ["", *SSL_MODES]})
    selector: Mapping[str, str] = doc("Kubernetes: pod labels that find this service's pods (default: {<selector_label>: <name>}).", default_factory=dict)
    port_name: str = doc("Kubernetes: the container port name to scrape (default: the runtime's).", default="")
    autoscaling: Autoscaling | None = doc("Kubernetes: the service's autoscaling here, replacing its own.", default=None)

    def __post_init__(self) -> None:
        problems = Problems()
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "selector", _freeze_map(self.selector))
        for target in self.targets:
            problems.check(_check_host_port, target, "targets", "backend-0.prod.svc:8000")
        if self.sampling_ratio is not None:
            problems.check(_check_number, self.sampling_ratio, "sampling_ratio", 0, 1, "0.05")
        if self.probe_url:
            problems.check(_check_url, self.probe_url, "probe_url", "https://dashboard.example.org/")
        if self.address and not self.address.startswith(("http://", "https://")):
            problems.check(_check_host_port, self.address, "address", "127.0.0.1:5432")
        elif self.address:
            problems.check(_check_url, self.address, "address", "https://api.partner.example/health")
        for key in ("exporter_address", "exporter_listen"):
            if getattr(self, key):
                problems.check(_check_host_port, getattr(self, key), key, "127.0.0.1:9187")
        if self.sslmode and self.sslmode not in SSL_MODES:
            problems.add("sslmode", f"{self.sslmode!r} is not an sslmode", f"use one of {', '.join(SSL_MODES)}")
        check_labels(self.selector, "selector", problems)
        if self.port_name:
            check_port_name(self.port_name, "port_name", problems)
        problems.done()


#: Platform fields an environment may replace with its own value (empty: the platform's).
ENDPOINT_FIELDS = (
    "grafana_url",
    "alertmanager_url",
    "jaeger_url",
    "jaeger_otlp_endpoint",
    "elasticsearch_url",
    "node_targets",
    "blackbox_address",
    "prometheus_address",
    "metrics_store",
    "audit_alertmanager_url",
    "pagerduty_url",
    "smtp_smarthost",
)


@dataclass(frozen=True, slots=True)
class Environment:
    """A deployment of the platform (dev, staging, prod) with its own Prometheus."""

    name: str = doc("Name, e.g. 'prod'; becomes the 'environment' external label.", schema=NAME_SCHEMA, check=name_check("environment"))
    runtime: Runtime = doc(
        "Where it runs: {type: compose} (one Docker host), {type: kubernetes, namespace: ...}, or {type: local} "
        "(plain processes on one host).",
        default_factory=Compose,
    )
    external_labels: Mapping[str, str] = doc(
        "Extra Prometheus external labels (e.g. region).", default_factory=dict
    )
    overrides: Mapping[str, ComponentOverride] = doc(
        "Component name → per-environment override.", default_factory=dict
    )
    paging: bool = doc(
        "Whether page-severity alerts page here (false in dev: they go to chat).", default=True
    )
    scrape_interval: str = doc("Prometheus scrape and rule evaluation interval (at most 5m).", default="30s", schema=POSITIVE_DURATION_SCHEMA)
    prometheus_url: str = doc(
        "Base URL of this environment's Prometheus as people reach it (Grafana datasource, links in "
        "notifications); empty: Grafana reads it from OBS_PROMETHEUS_URL_<ENV>.",
        default="",
    )
    prometheus_replicas: int = doc(
        "Prometheus servers scraping the same targets (2: an HA pair, told apart by the `prometheus_replica` label).",
        default=1,
        schema={"minimum": 1, "maximum": 2},
    )
    log_retention_days: Mapping[str, int] = doc(
        "Log class → days, replacing the platform's retention.", default_factory=dict
    )
    alerts: Mapping[str, AlertTuning] = doc(
        "'<Alert>' or '<component>/<Alert>' → tuning of catalogue alerts here (switch off, severity, for, threshold).",
        default_factory=dict,
    )
    grafana_url: str = doc("The platform's grafana_url here (empty: the platform's).", default="")
    alertmanager_url: str = doc("The platform's alertmanager_url here.", default="")
    jaeger_url: str = doc("The platform's jaeger_url here.", default="")
    jaeger_otlp_endpoint: str = doc("The platform's jaeger_otlp_endpoint here.", default="")
    elasticsearch_url: str = doc("The platform's elasticsearch_url here.", default="")
    node_targets: tuple[str, ...] = doc("The platform's node_targets here.", default=(), schema={"items": HOST_PORT_SCHEMA})
    blackbox_address: str = doc("The platform's blackbox_address here.", default="")
    prometheus_address: str = doc("The platform's prometheus_address here.", default="")
    metrics_store: MetricsStore | None = doc("The platform's metrics_store here.", default=None)
    audit_alertmanager_url: str = doc("The platform's audit_alertmanager_url here.", default="")
    pagerduty_url: str = doc("The platform's pagerduty_url here (e.g. a proxy the cluster must use).", default="")
    smtp_smarthost: str = doc("The platform's smtp_smarthost here.", default="")

    def __post_init__(self) -> None:
        here = f"environments[{key_of(self.name)}]"
        problems = Problems()
        problems.check(_check_name, self.name, f"{here}.name", "environment")
        if not isinstance(self.runtime, Compose | Kubernetes | Local):
            problems.add(f"{here}.runtime", f"{self.runtime!r} is not a runtime", "use Compose(), Kubernetes(namespace=...) or Local()")
        object.__setattr__(self, "external_labels", _freeze_map(self.external_labels))
        object.__setattr__(self, "overrides", _freeze_map(self.overrides))
        object.__setattr__(self, "log_retention_days", _freeze_map(self.log_retention_days))
        object.__setattr__(self, "alerts", _freeze_map(self.alerts))
        object.__setattr__(self, "node_targets", tuple(self.node_targets))
        for key, value in self.external_labels.items():
            if not isinstance(key, str) or not _LABEL_NAME.fullmatch(key) or key.startswith("__"):
                problems.add(f"{here}.external_labels[{key_of(key)}]", f"{key!r} is not a label name", "use letters, digits and '_'")
            elif key == contract.ENVIRONMENT_LABEL:
                problems.add(f"{here}.external_labels[{key_of(key)}]", "the environment label is set from the environment's name", "remove it")
            elif key in ("cluster", "prometheus_replica"):
                problems.add(f"{here}.external_labels[{key_of(key)}]", f"the {key} label is set by obs (from runtime.cluster, or per HA replica)", "remove it")
            if not isinstance(value, str) or not value or any(ord(c) < 32 for c in value):
                problems.add(f"{here}.external_labels[{key_of(key)}]", f"{value!r} is not a label value", "one line of text, e.g. 'eu-west-1'")
        check_retention(self.log_retention_days, f"{here}.log_retention_days", problems)
        for key, example in _URL_EXAMPLES.items():
            if getattr(self, key):
                problems.check(_check_url, getattr(self, key), f"{here}.{key}", example)
        if self.jaeger_otlp_endpoint:
            problems.check(_check_endpoint, self.jaeger_otlp_endpoint, f"{here}.jaeger_otlp_endpoint", "http://jaeger-collector:4317")
        for key, example in _ADDRESS_EXAMPLES.items():
            if getattr(self, key):
                problems.check(_check_host_port, getattr(self, key), f"{here}.{key}", example)
        for target in self.node_targets:
            problems.check(_check_host_port, target, f"{here}.node_targets", "127.0.0.1:9100")
        try:
            if parse_duration(self.scrape_interval, f"{here}.scrape_interval", positive=True) > 300:
                problems.add(f"{here}.scrape_interval", f"{self.scrape_interval} is too long for 5m rate windows", "use at most 5m; 15s-60s are usual")
        except ModelError as err:
            problems.errors.append(err)
        if isinstance(self.prometheus_replicas, bool) or self.prometheus_replicas not in (1, 2):
            problems.add(f"{here}.prometheus_replicas", f"{self.prometheus_replicas!r} is not 1 or 2", "1, or 2 for an HA pair")
        for key in self.alerts:
            problems.check(check_alert_key, key, f"{here}.alerts[{key_of(key)}]")
        self._check_runtime(here, problems)
        problems.done()

    def _check_runtime(self, here: str, problems: Problems) -> None:
        """A Compose environment has no pod selectors; a Kubernetes one scrapes pods, not loopback."""
        for name, override in self.overrides.items():
            where = f"{here}.overrides[{key_of(name)}]"
            if not isinstance(self.runtime, Kubernetes):
                for key in ("selector", "port_name", "autoscaling"):
                    if getattr(override, key):
                        problems.add(f"{where}.{key}", f"a {self.runtime.type} environment finds services by address, not by {key}", "remove it, or run the environment on Kubernetes (runtime: {type: kubernetes, ...})")
            else:
                for target in (*override.targets, override.address, override.exporter_address):
                    if target.startswith(_LOOPBACK) or "//127." in target or "//localhost" in target:
                        problems.add(f"{where}", f"{target!r} is a loopback address, which no pod answers on", "leave targets empty: pods are found by their labels")
                if override.targets:
                    problems.add(f"{where}.targets", "a Kubernetes environment finds pods by labels, not fixed targets", "use selector and port_name instead")

    @property
    def all_external_labels(self) -> Mapping[str, str]:
        labels = {contract.ENVIRONMENT_LABEL: self.name, **self.external_labels}
        if isinstance(self.runtime, Kubernetes) and self.runtime.cluster:
            labels["cluster"] = self.runtime.cluster
        return labels

    @property
    def on_kubernetes(self) -> bool:
        return isinstance(self.runtime, Kubernetes)


def check_retention(retention: Mapping[str, int], path: str, problems: Problems) -> None:
    for cls, days in retention.items():
        if cls not in contract.LOG_CLASSES:
            problems.add(f"{path}[{key_of(cls)}]", f"{cls!r} is not a log class", f"use one of {', '.join(contract.LOG_CLASSES)}")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            problems.add(f"{path}[{key_of(cls)}]", f"{days!r} is not a number of days", "e.g. 30")


DEFAULT_LOG_RETENTION: Mapping[str, int] = MappingProxyType({"access": 14, "application": 30, "audit": 400})

__all__ = ["DEFAULT_LOG_RETENTION", "ENDPOINT_FIELDS", "ComponentOverride", "Environment", "check_retention"]
