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

:func:`rule_files` lays the catalogue out in rule files for one environment; the platform's own
alerts are added by :mod:`obs.render.rules`.
"""

from __future__ import annotations

from obs.catalogue.alerts.node import node_alerts
from obs.catalogue.alerts.postgres import postgres_alerts
from obs.catalogue.alerts.probes import probe_alerts
from obs.catalogue.alerts.redis import redis_alerts
from obs.catalogue.alerts.selfmon import self_alerts
from obs.catalogue.alerts.services import instrumentation_alert, latency_alert
from obs.catalogue.alerts.slo import (
    SLO_TEST_STEP_MINUTES,
    quiet_recording_test,
    recording_test,
    slo_alerts,
    slo_recordings,
)
from obs.catalogue.alerts.targets import scrape_jobs, target_alerts
from obs.model import DependencyKind, Environment, Platform
from obs.rules.rulefile import RuleFile


def _slo_files(platform: Platform) -> list[RuleFile]:
    # One file per SLO, its groups by purpose (SLI recordings, metadata, alerts) as Sloth writes
    # them: the tests of one SLO then evaluate only its own recordings.
    files: list[RuleFile] = []
    for service in platform.instrumented_services:
        for s in service.slos:
            slo = RuleFile(f"slo-{service.name}-{s.name}", test_step=f"{SLO_TEST_STEP_MINUTES}m")
            slo_recordings(slo, slo, platform, service, s)
            slo.expr_tests.append(recording_test(service, s))
            slo.expr_tests.append(quiet_recording_test(service, s))
            rules = slo.group(f"{platform.name}-slo-alerts-{service.name}-{s.name}")
            for alert in slo_alerts(platform, service, s):
                slo.alert(rules, alert)
            files.append(slo)
    return files


def rule_files(platform: Platform, env: Environment) -> list[RuleFile]:
    """The catalogue's rule files for ``env``, in the order they are written; empty ones left out."""
    p = platform.name
    services = RuleFile("services")
    for service in platform.instrumented_services:
        rules = services.group(f"{p}-service-{service.name}")
        services.alert(rules, latency_alert(platform, service))
        services.alert(rules, instrumentation_alert(platform, service))

    jobs = scrape_jobs(platform, env)
    targets = RuleFile("targets")
    rules = targets.group(f"{p}-targets")
    for job in jobs:
        for alert in target_alerts(platform, job, jobs):
            targets.alert(rules, alert)

    postgres, redis = RuleFile("postgres"), RuleFile("redis")
    for dep in platform.dependencies:
        if dep.kind is DependencyKind.POSTGRES:
            rules = postgres.group(f"{p}-postgres-{dep.name}")
            for alert in postgres_alerts(platform, dep):
                postgres.alert(rules, alert)
        elif dep.kind is DependencyKind.REDIS:
            rules = redis.group(f"{p}-redis-{dep.name}")
            for alert in redis_alerts(platform, dep):
                redis.alert(rules, alert)

    node, probes, selfmon = RuleFile("node"), RuleFile("probes"), RuleFile("self-monitoring")
    by_name = {j.name: j for j in jobs}
    if "node" in by_name:
        rules = node.group(f"{p}-node")
        for alert in node_alerts(platform, by_name["node"]):
            node.alert(rules, alert)
    if "blackbox-http" in by_name:
        rules = probes.group(f"{p}-probes")
        for alert in probe_alerts(platform, env, by_name["blackbox-http"]):
            probes.alert(rules, alert)
    if "prometheus" in by_name and "alertmanager" in by_name:
        rules = selfmon.group(f"{p}-self-monitoring")
        for alert in self_alerts(platform, by_name["prometheus"], by_name["alertmanager"]):
            selfmon.alert(rules, alert)
    return [f for f in (*_slo_files(platform), services, targets, postgres, redis, node, probes, selfmon) if f.groups]


__all__ = ["rule_files"]
