"""Prometheus server configuration: scrape jobs for every service and exporter, rule files,
alerting, external labels. One file per environment.

Every target gets ``service`` and ``team`` labels from the model, so rules and dashboards select
by service whatever the exporter, and alerts route by team without a lookup table. The shared jobs
(node, Prometheus, Alertmanager) belong to the platform's ``infra_team``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlparse

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.model import Dependency, DependencyKind, Environment, Platform, Service

CONFIG_PATH = "prometheus/prometheus.yml"
RULES_GLOB = "rules/*.yml"


def _labels(name: str, team: str) -> dict[str, str]:
    return {contract.SERVICE_LABEL: name, contract.TEAM_LABEL: team}


def _host_port(url: str, default_port: int) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or default_port}"


def _service_job(platform: Platform, service: Service, env: Environment) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_name": service.name,
        "metrics_path": service.metrics_path,
        "static_configs": [
            {
                "targets": list(platform.scrape_targets(service, env)),
                "labels": _labels(service.name, service.team),
            }
        ],
    }
    if service.metrics_token_file:
        # The token is read from a file on the Prometheus host; it never appears in the config.
        job["authorization"] = {"type": "Bearer", "credentials_file": service.metrics_token_file}
    return job


def _exporter_job(platform: Platform, dep: Dependency, env: Environment) -> dict[str, Any]:
    return {
        "job_name": dep.name,
        "static_configs": [
            {"targets": list(platform.scrape_targets(dep, env)), "labels": _labels(dep.name, dep.team)}
        ],
    }


def _probe_job(platform: Platform, env: Environment) -> dict[str, Any] | None:
    probes: list[dict[str, Any]] = []
    for service in platform.probed_services:
        url = platform.probe_url(service, env)
        probes.append({"targets": [url], "labels": _labels(service.name, service.team)})
    for dep in platform.dependencies:
        if dep.kind is DependencyKind.HTTP:
            probes.append({"targets": [dep.address], "labels": _labels(dep.name, dep.team)})
    if not probes:
        return None
    return {
        "job_name": "blackbox-http",
        "metrics_path": "/probe",
        "params": {"module": [contract.BLACKBOX_HTTP_MODULE]},
        "static_configs": probes,
        # The blackbox exporter probes the URL given as ?target=; the URL becomes `instance`.
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": platform.blackbox_address},
        ],
    }


def scrape_jobs(platform: Platform, env: Environment) -> Iterator[dict[str, Any]]:
    for service in platform.instrumented_services:
        yield _service_job(platform, service, env)
    for dep in platform.dependencies:
        if dep.kind.exporter:
            yield _exporter_job(platform, dep, env)
    yield {
        "job_name": "node",
        "static_configs": [
            {"targets": list(platform.node_targets), "labels": _labels("node", platform.infra_team)}
        ],
    }
    probe = _probe_job(platform, env)
    if probe:
        yield probe
    yield {
        "job_name": "prometheus",
        "static_configs": [
            {"targets": ["localhost:9090"], "labels": _labels("prometheus", platform.infra_team)}
        ],
    }
    yield {
        "job_name": "alertmanager",
        "static_configs": [
            {
                "targets": [_host_port(platform.alertmanager_url, 9093)],
                "labels": _labels("alertmanager", platform.infra_team),
            }
        ],
    }


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    return {
        "global": {
            "scrape_interval": env.scrape_interval,
            "evaluation_interval": env.scrape_interval,
            "external_labels": dict(env.all_external_labels),
        },
        "rule_files": [RULES_GLOB],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [_host_port(platform.alertmanager_url, 9093)]}]}
            ]
        },
        "scrape_configs": list(scrape_jobs(platform, env)),
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))


