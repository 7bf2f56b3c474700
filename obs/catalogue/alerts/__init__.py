"""The alert catalogue: per component, the alerts every platform gets, laid out as
kubernetes-mixin lays out its ``alerts/<component>``: one module per component, thresholds at the
top with their reasons, each alert with its generated promtool cases.

    slo.py       SLO recordings and multi-window multi-burn-rate alerts (one rule file per SLO)
    services.py  p99 latency, missing instrumentation (every instrumented service)
    targets.py   target down, job absent (every scrape job)
    postgres.py  PostgreSQL through postgres_exporter
    redis.py     Redis through redis_exporter
    node.py      hosts through node_exporter
    probes.py    blackbox probes of what users reach from outside
    selfmon.py   Prometheus and Alertmanager, and the Watchdog

:data:`CATALOGUE` names the alerts each kind of component gets, with the unit of each tunable
threshold; :func:`check_tunings` holds the model's tuning (:mod:`obs.model.tuning`) against it.
:func:`rule_files` lays the catalogue out in rule files for one environment; the platform's own
alerts are added by :mod:`obs.ruleset`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from obs import contract
from obs.alerting import RECENT_OUTAGE
from obs.catalogue.alerts import node, postgres, probes, redis, selfmon, services, targets
from obs.catalogue.alerts._common import Threshold
from obs.catalogue.alerts.node import node_alerts
from obs.catalogue.alerts.postgres import postgres_alerts
from obs.catalogue.alerts.probes import probe_alerts
from obs.catalogue.alerts.redis import redis_alerts
from obs.catalogue.alerts.selfmon import self_alerts
from obs.catalogue.alerts.services import HIGH_LATENCY_DEFAULT_SECONDS, recent_outage_alerts, service_alerts
from obs.catalogue.alerts.slo import ALERT_NAME as SLO_ALERT
from obs.catalogue.alerts.slo import slo_rule_file
from obs.catalogue.alerts.targets import scrape_jobs, target_alerts
from obs.errors import ModelError, ModelErrors
from obs.model import Dependency, DependencyKind, Environment, Platform, Service
from obs.rules.rulefile import RuleFile, mark_templates

#: The alerts of services.py and slo.py, with their tunable threshold (the p99 latency's).
SERVICE_ALERTS: dict[str, Threshold | None] = {
    # A p99 at or above the largest finite bound is never estimated above it: below that bound.
    **{
        name: Threshold(HIGH_LATENCY_DEFAULT_SECONDS, unit, high=contract.HTTP_DURATION_BUCKETS[-1]) if unit else None
        for name, unit in services.ALERTS.items()
    },
    SLO_ALERT: None,
}

#: Kind of component → the catalogue alerts it gets → the tunable threshold, if the alert has one.
#: ``platform`` holds what belongs to no component of the model (hosts, Prometheus,
#: Alertmanager): those are tuned per environment by alert name alone.
CATALOGUE: dict[str, dict[str, Threshold | None]] = {
    "instrumented service": {**targets.ALERTS, **SERVICE_ALERTS, **probes.ALERTS},
    # RecentOutage holds the symptoms of anything others depend on (services.py).
    "probed service": {**probes.ALERTS, RECENT_OUTAGE: None},
    "postgres": {**targets.ALERTS, **postgres.ALERTS, RECENT_OUTAGE: None},
    "redis": {**targets.ALERTS, **redis.ALERTS, RECENT_OUTAGE: None},
    "http": {**probes.ALERTS, RECENT_OUTAGE: None},
    "platform": {**targets.ALERTS, **node.ALERTS, **selfmon.ALERTS},
}


#: How the errors name each kind of component.
KIND_PHRASES = {
    "instrumented service": "an instrumented service",
    "probed service": "a probed service",
    "postgres": "a postgres dependency",
    "redis": "a redis dependency",
    "http": "an http dependency",
}


def component_kind(component: Service | Dependency) -> str:
    if isinstance(component, Service):
        return "instrumented service" if component.kind.instrumented else "probed service"
    return component.kind.value


def _every_alert() -> dict[str, Threshold | None]:
    return {name: threshold for alerts in CATALOGUE.values() for name, threshold in alerts.items()}


def _check(path: str, name: str, known: Mapping[str, Threshold | None], what: str, threshold: float | None) -> Iterator[ModelError]:
    if name not in known:
        yield ModelError(path, f"{name!r} is not a catalogue alert of {what}", f"use one of {', '.join(sorted(known))}")
        return
    spec = known[name]
    if threshold is None:
        return
    if spec is None:
        yield ModelError(f"{path}.threshold", f"{name} has no threshold to tune", "tune enabled, severity or for")
    elif problem := spec.problem(float(threshold)):
        yield ModelError(f"{path}.threshold", problem, f"e.g. {spec.default:g}")


def check_tunings(platform: Platform) -> None:
    """Every tuning in the model names an alert the catalogue has for that component (or, in an
    environment without a component, for any), and sets a threshold only where the alert has
    one, in its range; raises every problem at once."""
    problems: list[ModelError] = []
    components = {c.name: c for c in platform.components()}
    for comp in components.values():
        where = "services" if isinstance(comp, Service) else "dependencies"
        kind = component_kind(comp)
        for name, tuning in comp.alerts.items():
            problems += _check(f"{where}[{comp.name}].alerts[{name}]", name, CATALOGUE[kind], KIND_PHRASES[kind], tuning.threshold)
    every = _every_alert()
    for env in platform.environments:
        for key, tuning in env.alerts.items():
            component, _, name = key.rpartition("/")
            path = f"environments[{env.name}].alerts[{key}]"
            if component and component in components:
                kind = component_kind(components[component])
                problems += _check(path, name, CATALOGUE[kind], KIND_PHRASES[kind], tuning.threshold)
            else:
                problems += _check(path, name, every, "the catalogue", tuning.threshold)
    if problems:
        raise ModelErrors(problems)


def _slo_files(platform: Platform, env: Environment) -> list[RuleFile]:
    # One file per SLO, its groups by purpose as Sloth writes them: the tests of one SLO then
    # evaluate only its own recordings. SLOs whose rules differ only by the service's names run
    # their cases once, in the first such file; the others check their wiring.
    files: list[RuleFile] = []
    names: dict[str, tuple[str, ...]] = {}
    for service in platform.instrumented_services:
        for slo in service.slos:
            file = slo_rule_file(platform, env, service, slo)
            names[file.name] = (service.name, service.team, slo.name)
            files.append(file)
    mark_templates(files, lambda f: names[f.name])
    return files


def rule_files(platform: Platform, env: Environment) -> list[RuleFile]:
    """The catalogue's rule files for ``env``, in the order they are written; empty ones left out."""
    check_tunings(platform)
    p = platform.name
    services = RuleFile("services")
    for service in platform.instrumented_services:
        rules = services.group(f"{p}-service-{service.name}")
        for alert in service_alerts(platform, env, service):
            services.alert(rules, alert)
    holds = recent_outage_alerts(platform, env)
    if holds:
        rules = services.group(f"{p}-outages")
        for alert in holds:
            services.alert(rules, alert)

    jobs = scrape_jobs(platform, env)
    targets_file = RuleFile("targets")
    rules = targets_file.group(f"{p}-targets")
    for alert in target_alerts(platform, env, jobs):
        targets_file.alert(rules, alert)

    postgres_file, redis_file = RuleFile("postgres"), RuleFile("redis")
    for dep in platform.dependencies:
        if dep.kind is DependencyKind.POSTGRES:
            rules = postgres_file.group(f"{p}-postgres-{dep.name}")
            for alert in postgres_alerts(platform, env, dep):
                postgres_file.alert(rules, alert)
        elif dep.kind is DependencyKind.REDIS:
            rules = redis_file.group(f"{p}-redis-{dep.name}")
            for alert in redis_alerts(platform, env, dep):
                redis_file.alert(rules, alert)

    node_file, probes_file, selfmon_file = RuleFile("node"), RuleFile("probes"), RuleFile("self-monitoring")
    by_kind = {j.kind: j for j in reversed(jobs)}
    if "node" in by_kind:
        rules = node_file.group(f"{p}-node")
        for alert in node_alerts(platform, env, by_kind["node"]):
            node_file.alert(rules, alert)
    if "probe" in by_kind:
        rules = probes_file.group(f"{p}-probes")
        for alert in probe_alerts(platform, env, by_kind["probe"]):
            probes_file.alert(rules, alert)
    if "prometheus" in by_kind and "alertmanager" in by_kind:
        rules = selfmon_file.group(f"{p}-self-monitoring")
        for alert in self_alerts(platform, env, by_kind["prometheus"], by_kind["alertmanager"]):
            selfmon_file.alert(rules, alert)
    files = [*_slo_files(platform, env), services, targets_file, postgres_file, redis_file, node_file, probes_file, selfmon_file]
    for file in files:
        # A group whose every alert the model switched off is left out with them.
        file.groups[:] = [g for g in file.groups if g["rules"]]
    return [f for f in files if f.groups]


__all__ = ["CATALOGUE", "SERVICE_ALERTS", "check_tunings", "component_kind", "rule_files"]
