"""The platform: everything obs renders from."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from obs.errors import ModelError
from obs.model._base import (
    DEFAULT_ALERT_WEBHOOK_URL,
    DEFAULT_INFRA_TEAM,
    HOST_PORT_SCHEMA,
    NAME_SCHEMA,
    URL_SCHEMA,
    Problems,
    _check_endpoint,
    _check_file,
    _check_host_port,
    _check_name,
    _check_unique,
    _check_url,
    _freeze_map,
    _reference_fix,
    doc,
    key_of,
    name_check,
)
from obs.model.components import Dependency, Service, Team
from obs.model.environment import (
    DEFAULT_LOG_RETENTION,
    ENDPOINT_FIELDS,
    ComponentOverride,
    Environment,
    check_retention,
)
from obs.model.store import MetricsStore

#: The names the severity label can follow (obs.alerting.SEVERITY_SCHEMES maps them).
SEVERITY_SCHEME_NAMES = ("obs", "kube-prometheus")
#: The example an audit_alertmanager_url error gives.
DEFAULT_AUDIT_ALERTMANAGER_URL = "http://alertmanager-audit:9093"
#: PagerDuty's Events API v2 (Alertmanager's own default for pagerduty_configs).
DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
OPTIONAL_URL_SCHEMA: Mapping[str, Any] = {"pattern": "^$|" + URL_SCHEMA["pattern"]}


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything obs renders from: services, dependencies, teams, environments."""

    name: str = doc("Platform name; prefixes dashboards, index names and rule groups.", schema=NAME_SCHEMA, check=name_check("platform"))
    services: tuple[Service, ...] = doc("The services users reach.")
    environments: tuple[Environment, ...] = doc("Deployments; the first is the default for `obs build`.")
    dependencies: tuple[Dependency, ...] = doc("Datastores and upstreams.", default=())
    teams: tuple[Team, ...] = doc(
        "Alert destinations per team. Every team a component or infra_team names must be here.", default=()
    )
    grafana_url: str = doc(
        "Base URL of Grafana, for dashboard links in alerts.", default="http://grafana:3000", schema=URL_SCHEMA
    )
    alertmanager_url: str = doc(
        "Base URL of Alertmanager (Grafana datasource).", default="http://alertmanager:9093", schema=URL_SCHEMA
    )
    jaeger_url: str = doc("Base URL of the Jaeger query UI.", default="http://jaeger:16686", schema=URL_SCHEMA)
    jaeger_otlp_endpoint: str = doc(
        "Jaeger's OTLP/gRPC receiver, where the collector sends spans: http://host:port for plaintext, "
        "https://host:port for TLS, e.g. 'http://jaeger-collector.tracing:4317'. The UI's ingress (jaeger_url) "
        "rarely serves gRPC. Empty: jaeger_url's host on port 4317, with jaeger_url's scheme.",
        default="",
    )
    elasticsearch_url: str = doc("Base URL of Elasticsearch, without credentials.", default="http://elasticsearch:9200", schema=URL_SCHEMA)
    elasticsearch_username: str = doc("User Fluentd, Logstash and Jaeger log in to Elasticsearch as (empty: no login).", default="")
    elasticsearch_password_file: str = doc(
        "File holding that user's password (a mounted secret; read into $OBS_ELASTICSEARCH_PASSWORD).", default="", schema={"pattern": r"^$|^/"}
    )
    node_targets: tuple[str, ...] = doc("host:port of the node exporters.", default=("node-exporter:9100",), schema={"items": HOST_PORT_SCHEMA})
    blackbox_address: str = doc("host:port of the blackbox exporter.", default="blackbox-exporter:9115", schema=HOST_PORT_SCHEMA)
    prometheus_address: str = doc(
        "host:port Prometheus listens on and scrapes itself at (its own name on the Compose network, 127.0.0.1:<port> on one host).",
        default="prometheus:9090",
        schema=HOST_PORT_SCHEMA,
    )
    metrics_store: MetricsStore | None = doc(
        "A horizontally scaled store every environment writes to (remote_write) and whose ruler runs the SLO rules; empty: none.",
        default=None,
    )
    log_retention_days: Mapping[str, int] = doc(
        "Log class (access, application, audit) → days kept.",
        default_factory=lambda: dict(DEFAULT_LOG_RETENTION),
    )
    alerts: tuple[str, ...] = doc(
        "The platform's own alerts, beside the catalogue's: files or folders, relative to the platform file. "
        "YAML alert files (`alerts:` list, see `obs schema --alerts`; in a folder they end in .alerts.yaml); Python modules defining "
        "`alerts(platform)` returning obs.Alert values (Python platforms only: a YAML platform never runs code).",
        default=(),
    )
    dashboards: tuple[str, ...] = doc(
        "The platform's own dashboards, beside the catalogue's: files or folders, relative to the platform file. "
        "Grafana JSON files as exported from the UI (provisioned as they are, after the same lint); Python "
        "modules defining `dashboards(platform, env)` with obs.grafana, and grafanalib `*.dashboard.py` modules "
        "(Python platforms only). A dashboard's team is its `team:<name>` tag, else the folder it sits in.",
        default=(),
    )
    rule_tests: tuple[str, ...] = doc(
        "Hand-written promtool test files (or folders of them) run by `obs test` beside the generated ones; "
        "their rule_files are the generated files, e.g. '../../rules/custom.yml' from prometheus/tests/handwritten/.",
        default=(),
    )
    runbooks: tuple[str, ...] = doc(
        "Folders of runbook texts written by the teams, `<AlertName>.md`, merged into the generated runbook pages.",
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
        schema=URL_SCHEMA,
    )
    heartbeat_url: str = doc(
        "External dead man's switch (healthchecks.io, an Opsgenie or PagerDuty heartbeat, Cronitor) that "
        "Alertmanager calls every minute with the always-firing Watchdog alert. The service pages when the calls "
        "stop: the one alert that still reaches someone when Prometheus, Alertmanager or the path between them is "
        "down. Written into alertmanager.yml as is (Alertmanager 0.25 reads no webhook URL from a file). "
        "Empty: no Watchdog.",
        default="",
    )
    audit_alertmanager_url: str = doc(
        "Base URL of the audit Alertmanager, a second one that forwards every alert, inhibited or not, to "
        "alert_webhook_url (the audit trail): Prometheus sends to both, and the teams' Alertmanager then sends "
        "nothing to the audit webhook; obs writes its configuration (alertmanager/audit.yml), you run it. Empty: "
        "none; the teams' Alertmanager sends to the audit webhook itself, and an alert it inhibits never reaches it.",
        default="",
        schema=OPTIONAL_URL_SCHEMA,
    )
    pagerduty_url: str = doc(
        "PagerDuty's Events API v2 endpoint the pager receivers post to (each pagerduty_configs[].url); another "
        "address for a proxy or a stand-in. Written as is, so it must not contain credentials.",
        default=DEFAULT_PAGERDUTY_URL,
        schema=URL_SCHEMA,
    )
    smtp_smarthost: str = doc("host:port of the SMTP server Alertmanager mails through (teams with an email).", default="")
    smtp_from: str = doc("Sender address of Alertmanager's mails.", default="")
    smtp_auth_username: str = doc("SMTP login (empty: none).", default="")
    smtp_auth_password_file: str = doc(
        "File holding the SMTP password (a mounted secret; needs smtp_auth_username).", default="", schema={"pattern": r"^$|^/"}
    )
    severity_scheme: str = doc(
        "Names of the `severity` label: 'obs' (page, ticket, info) or 'kube-prometheus' (critical, warning, info), "
        "for teams whose existing Alertmanager routes on kube-prometheus' names. The meaning is the same.",
        default="obs",
        schema={"enum": list(SEVERITY_SCHEME_NAMES)},
    )
    infra_team: str = doc(
        "Team that owns the shared infrastructure jobs (node exporters, blackbox probes, Prometheus, Alertmanager) "
        "and gets their alerts. Must be one of teams when teams are declared.",
        default=DEFAULT_INFRA_TEAM,
    )

    def __post_init__(self) -> None:
        problems = Problems()
        problems.check(_check_name, self.name, "name", "platform")
        for attr in ("services", "environments", "dependencies", "teams", "node_targets", "alerts", "dashboards", "rule_tests", "runbooks"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        retention = {**DEFAULT_LOG_RETENTION, **dict(self.log_retention_days)}
        check_retention(retention, "log_retention_days", problems)
        object.__setattr__(self, "log_retention_days", _freeze_map(retention))
        if not self.services:
            problems.add("services", "a platform needs at least one service", "add a Service(...)")
        if not self.environments:
            problems.add("environments", "a platform needs at least one environment", "add Environment(name='prod')")
        problems.check(_check_unique, [s.name for s in self.services] + [d.name for d in self.dependencies], "services", "component")
        problems.check(_check_unique, [e.name for e in self.environments], "environments", "environment")
        problems.check(_check_unique, [t.name for t in self.teams], "teams", "team")
        if self.severity_scheme not in SEVERITY_SCHEME_NAMES:
            problems.add("severity_scheme", f"{self.severity_scheme!r} is not a severity scheme", f"use one of {', '.join(SEVERITY_SCHEME_NAMES)}")
        self._check_references(problems)
        self._check_endpoints(problems)
        for ref_field in ("alerts", "dashboards", "rule_tests", "runbooks"):
            for ref in getattr(self, ref_field):
                if not isinstance(ref, str) or not ref.strip() or any(ord(c) < 32 for c in ref):
                    problems.add(ref_field, f"{ref!r} is not a path", "a file or folder relative to the platform file, e.g. 'alerts'")
        problems.done()

    def _check_references(self, problems: Problems) -> None:
        """Names that point at other parts of the platform point at something."""
        components = {c.name for c in self.components()}
        team_names = {t.name for t in self.teams}
        for service in self.services:
            for dep in service.depends_on:
                if dep not in components or dep == service.name:
                    others = components - {service.name}
                    problems.add(
                        f"services[{key_of(service.name)}].depends_on",
                        f"{dep!r} is not a dependency or another service of the platform",
                        f"use one of {', '.join(sorted(others))}" if others else f"add Dependency(name={dep!r}, ...) to dependencies",
                    )
        for comp in self.components():
            if self.teams and comp.team not in team_names:
                where = "services" if isinstance(comp, Service) else "dependencies"
                problems.add(
                    f"{where}[{key_of(comp.name)}].team",
                    f"{comp.team!r} is not a team of the platform",
                    _reference_fix(comp.team, team_names, f"add Team(name={comp.team!r}) to teams"),
                )
        if problems.check(_check_name, self.infra_team, "infra_team", "team") and self.teams and self.infra_team not in team_names:
            problems.add(
                "infra_team",
                f"{self.infra_team!r} is not a team of the platform",
                _reference_fix(self.infra_team, team_names, f"add Team(name={self.infra_team!r}) to teams"),
            )
        for env in self.environments:
            for key in env.overrides:
                if key not in components:
                    problems.add(f"environments[{key_of(env.name)}].overrides[{key_of(key)}]", f"{key!r} is not a service or dependency", f"use one of {', '.join(sorted(components))}")
            for key in env.alerts:
                component = key.rpartition("/")[0]
                if component and component not in components:
                    problems.add(f"environments[{key_of(env.name)}].alerts[{key_of(key)}]", f"{component!r} is not a service or dependency", f"use one of {', '.join(sorted(components))}")

    def _check_endpoints(self, problems: Problems) -> None:
        fix = "give the URL without user:password@; set elasticsearch_username and elasticsearch_password_file"
        for key, example in (
            ("grafana_url", "https://grafana.example.org"),
            ("alertmanager_url", "http://alertmanager:9093"),
            ("jaeger_url", "https://jaeger.example.org"),
        ):
            problems.check(_check_url, getattr(self, key), key, example)
        problems.check(_check_url, self.elasticsearch_url, "elasticsearch_url", "http://elasticsearch:9200", fix)
        if self.elasticsearch_password_file:
            problems.check(_check_file, self.elasticsearch_password_file, "elasticsearch_password_file", "/run/secrets/elasticsearch-password")
        if bool(self.elasticsearch_username) != bool(self.elasticsearch_password_file):
            problems.add("elasticsearch_username", "an Elasticsearch login needs both a user and a password file", "set both, or neither")
        if self.elasticsearch_username and not _USERNAME.fullmatch(self.elasticsearch_username):
            problems.add("elasticsearch_username", f"{self.elasticsearch_username!r} is not a user name", "letters, digits and -_.@")
        for target in self.node_targets:
            problems.check(_check_host_port, target, "node_targets", "node-exporter:9100")
        problems.check(_check_host_port, self.blackbox_address, "blackbox_address", "blackbox-exporter:9115")
        problems.check(_check_host_port, self.prometheus_address, "prometheus_address", "prometheus:9090")
        if self.runbook_base_url:
            problems.check(_check_url, self.runbook_base_url, "runbook_base_url", "https://runbooks.example.org")
        problems.check(
            _check_url,
            self.alert_webhook_url,
            "alert_webhook_url",
            DEFAULT_ALERT_WEBHOOK_URL,
            "use a URL without credentials (Alertmanager 0.25 writes it into alertmanager.yml); protect the webhook on the network side",
        )
        if self.audit_alertmanager_url:
            problems.check(_check_url, self.audit_alertmanager_url, "audit_alertmanager_url", DEFAULT_AUDIT_ALERTMANAGER_URL)
        problems.check(
            _check_url, self.pagerduty_url, "pagerduty_url", DEFAULT_PAGERDUTY_URL,
            "use a URL without credentials (it is written into alertmanager.yml); the routing key comes from each team's pager_key_file",
        )  # fmt: skip
        self._check_smtp(problems)
        if self.heartbeat_url:
            problems.check(_check_url, self.heartbeat_url, "heartbeat_url", "https://hc-ping.com/<uuid>", "use the heartbeat's secret URL path, not user:password@")
        if self.jaeger_otlp_endpoint:
            problems.check(_check_endpoint, self.jaeger_otlp_endpoint, "jaeger_otlp_endpoint", "http://jaeger-collector.tracing:4317")

    def _check_smtp(self, problems: Problems) -> None:
        mailing = [t.name for t in self.teams if t.email]
        if self.smtp_smarthost:
            problems.check(_check_host_port, self.smtp_smarthost, "smtp_smarthost", "smtp.example.org:587")
        if self.smtp_from and not _EMAIL_ADDRESS.fullmatch(self.smtp_from):
            problems.add("smtp_from", f"{self.smtp_from!r} is not an e-mail address", "e.g. 'alertmanager@example.org'")
        if mailing:
            for key, example in (("smtp_smarthost", "smtp.example.org:587"), ("smtp_from", "alertmanager@example.org")):
                if not getattr(self, key):
                    problems.add(key, f"teams {', '.join(mailing)} are mailed, but {key} is empty", f"set it, e.g. {example!r}")
        if self.smtp_auth_password_file:
            problems.check(_check_file, self.smtp_auth_password_file, "smtp_auth_password_file", "/etc/alertmanager/secrets/smtp-password")
        if bool(self.smtp_auth_username) != bool(self.smtp_auth_password_file):
            problems.add("smtp_auth_username", "an SMTP login needs both a user and a password file", "set both, or neither")

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

    def in_environment(self, env: Environment) -> Platform:
        """The platform as ``env`` sees it: every address the environment overrides (the platform's
        endpoints, a dependency's address and exporter) replaced by its own, so every renderer
        follows the override, not only the scrape configuration."""
        changes: dict[str, Any] = {name: getattr(env, name) for name in ENDPOINT_FIELDS if getattr(env, name)}
        dependencies = tuple(_dependency_in(dep, env.overrides.get(dep.name)) for dep in self.dependencies)
        if dependencies != self.dependencies:
            changes["dependencies"] = dependencies
        return replace(self, **changes) if changes else self

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


def _dependency_in(dep: Dependency, override: ComponentOverride | None) -> Dependency:
    if override is None:
        return dep
    changes = {key: getattr(override, key) for key in ("address", "exporter_address", "exporter_listen", "sslmode") if getattr(override, key)}
    if "exporter_address" in changes and "exporter_listen" not in changes:
        changes["exporter_listen"] = changes["exporter_address"]
    return replace(dep, **changes) if changes else dep


_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}", re.ASCII)
_EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}", re.ASCII)

__all__ = ["DEFAULT_AUDIT_ALERTMANAGER_URL", "DEFAULT_PAGERDUTY_URL", "SEVERITY_SCHEME_NAMES", "Platform"]
