"""What Prometheus scrapes, from the model: a job per instrumented service and exporter, the node
exporters, the blackbox probes, Prometheus and Alertmanager themselves.

Every target gets ``service`` and ``team`` labels from the model, so rules and dashboards select
by service whatever the exporter, and alerts route by team without a lookup table. The shared jobs
(node, Prometheus, Alertmanager) belong to the platform's ``infra_team``. The Prometheus
configuration (:mod:`obs.render.prometheus`) writes these jobs; the catalogue's target alerts
(:mod:`obs.catalogue.alerts.targets`) watch them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from obs import contract
from obs.model import Dependency, DependencyKind, Environment, Platform, Service


def _labels(name: str, team: str) -> dict[str, str]:
    return {contract.SERVICE_LABEL: name, contract.TEAM_LABEL: team}


def host_port(url: str, default_port: int) -> str:
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
            {"targets": [platform.prometheus_address], "labels": _labels("prometheus", platform.infra_team)}
        ],
    }
    yield {
        "job_name": "alertmanager",
        "static_configs": [
            {
                "targets": [host_port(platform.alertmanager_url, 9093)],
                "labels": _labels("alertmanager", platform.infra_team),
            }
        ],
    }


__all__ = ["host_port", "scrape_jobs"]
