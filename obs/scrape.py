"""What Prometheus scrapes, from the model: a job per instrumented service and exporter, the node
exporters, the blackbox probes, Prometheus and Alertmanager themselves.

Every target gets ``service`` and ``team`` labels from the model, so rules and dashboards select
by service whatever the exporter, and alerts route by team without a lookup table. The shared jobs
(node, Prometheus, Alertmanager) belong to the platform's ``infra_team``.

Where the environment runs decides how targets are found:

- Compose (and plain processes): fixed ``host:port`` targets (``static_configs``);
- Kubernetes with plain Prometheus: pod discovery (``kubernetes_sd_configs``), so every replica of
  an autoscaled Deployment is its own target with its ``namespace`` and ``pod`` labels;
- Kubernetes with the Prometheus Operator: no job in ``prometheus.yml`` at all. The operator
  writes Prometheus's configuration from the PodMonitors, ServiceMonitors and Probe the
  ``kubernetes`` group writes (:mod:`obs.renderers.kubernetes`), and kube-prometheus-stack's own
  monitors cover the node exporters, Prometheus and Alertmanager.

:func:`scrape_jobs` is the ``scrape_configs`` of ``prometheus.yml`` (:mod:`obs.renderers.prometheus`).
:func:`monitored_jobs` says, whatever the runtime, which ``job`` labels Prometheus will have and
what their targets look like: what the catalogue's target alerts watch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from obs import contract
from obs.kube.discovery import kubernetes_scrape_config
from obs.kube.objects import selector_labels
from obs.model import Dependency, DependencyKind, Environment, Kubernetes, Platform, Service

#: The job of the blackbox probes (one job, a target per probed URL).
PROBE_JOB = "blackbox-http"
#: Exporters obs deploys on Kubernetes listen on a container port of this name.
EXPORTER_PORT_NAME = "metrics"
#: An address as pod discovery gives it (a pod IP), for rule tests that need an ``instance``.
EXAMPLE_POD_IP = "10.0.0.10"
#: kube-prometheus-stack's node exporter ServiceMonitor takes ``job`` from its Service's ``jobLabel``.
STACK_NODE_JOB = "node-exporter"
_STACK_CHART = "kube-prometheus-stack"

JobKind = Literal["service", "exporter", "node", "probe", "prometheus", "alertmanager"]


@dataclass(frozen=True, slots=True)
class MonitoredJob:
    """A ``job`` as Prometheus labels its targets, whoever configures the scrape: ``name`` is the
    ``job`` label, ``instance`` what one target's ``instance`` looks like (a pod's IP and port on
    Kubernetes), ``service``/``team`` what the job's alerts carry."""

    name: str
    kind: JobKind
    service: str
    team: str
    instance: str


def _labels(name: str, team: str) -> dict[str, str]:
    return {contract.SERVICE_LABEL: name, contract.TEAM_LABEL: team}


def host_port(url: str, default_port: int) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or default_port}"


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


# --- Kubernetes: how each component's pods are found --------------------------------------------


def kubernetes_runtime(env: Environment) -> Kubernetes:
    if not isinstance(env.runtime, Kubernetes):
        raise TypeError(f"environment {env.name} does not run on Kubernetes")
    return env.runtime


def exporter_workload(dep: Dependency) -> str:
    """The name of the Deployment and Service obs writes for a dependency's exporter."""
    return f"{dep.name}-exporter"


def deploys_exporter(dep: Dependency, env: Environment) -> bool:
    """Whether obs writes the dependency's exporter: not when the environment finds the team's own
    exporter pods by a selector."""
    override = env.overrides.get(dep.name)
    return dep.kind.exporter is not None and not (override and override.selector)


def pod_selector(component: Service | Dependency, env: Environment) -> dict[str, str]:
    """The pod labels that find a service's pods (or a dependency's exporter pods) in the namespace."""
    override = env.overrides.get(component.name)
    if override and override.selector:
        return dict(override.selector)
    if isinstance(component, Dependency):
        return selector_labels(exporter_workload(component))
    return {kubernetes_runtime(env).selector_label: component.name}


def port_name(component: Service | Dependency, env: Environment) -> str:
    """The container port name Prometheus scrapes on those pods."""
    override = env.overrides.get(component.name)
    if override and override.port_name:
        return override.port_name
    if isinstance(component, Dependency):
        return EXPORTER_PORT_NAME
    return kubernetes_runtime(env).port_name


def cluster_address(address: str, namespace: str) -> str:
    """``host:port`` as a Prometheus in another namespace reaches it: a bare Service name gets the
    namespace (``blackbox-exporter.toolboxai-production.svc:9115``); a qualified name stays."""
    host, _, port = address.rpartition(":")
    return address if "." in host else f"{host}.{namespace}.svc:{port}"


def deploys_blackbox(platform: Platform) -> bool:
    """obs writes the blackbox exporter when its address is a bare Service name of the namespace."""
    return "." not in platform.blackbox_address.rpartition(":")[0]


def stack_fullname(release: str) -> str:
    """kube-prometheus-stack's ``fullname`` for a Helm release (its _helpers.tpl: the release name
    when it contains the chart name, else ``<release>-kube-prometheus-stack``; at most 26 characters)."""
    name = release if _STACK_CHART in release else f"{release}-{_STACK_CHART}"
    return name[:26].rstrip("-")


def _example_instance(port: int) -> str:
    return f"{EXAMPLE_POD_IP}:{port}"


def _service_port(service: Service) -> int:
    return service.metrics_port or service.port


# --- prometheus.yml --------------------------------------------------------------------------------


def _token_file(service: Service) -> str | None:
    # The token is read from a file on the Prometheus host; it never appears in the config.
    return service.metrics_token_file or None


def _service_job(platform: Platform, service: Service, env: Environment) -> dict[str, Any]:
    if isinstance(env.runtime, Kubernetes):
        return kubernetes_scrape_config(
            service.name,
            namespace=env.runtime.namespace,
            selector=pod_selector(service, env),
            port_name=port_name(service, env),
            service=service.name,
            team=service.team,
            metrics_path=service.metrics_path,
            credentials_file=_token_file(service),
        )
    job: dict[str, Any] = {
        "job_name": service.name,
        "metrics_path": service.metrics_path,
        "static_configs": [{"targets": list(platform.scrape_targets(service, env)), "labels": _labels(service.name, service.team)}],
    }
    token = _token_file(service)
    if token:
        job["authorization"] = {"type": "Bearer", "credentials_file": token}
    return job


def _exporter_job(platform: Platform, dep: Dependency, env: Environment) -> dict[str, Any]:
    if isinstance(env.runtime, Kubernetes):
        return kubernetes_scrape_config(
            dep.name,
            namespace=env.runtime.namespace,
            selector=pod_selector(dep, env),
            port_name=port_name(dep, env),
            service=dep.name,
            team=dep.team,
        )
    return {
        "job_name": dep.name,
        "static_configs": [{"targets": list(platform.scrape_targets(dep, env)), "labels": _labels(dep.name, dep.team)}],
    }


def probe_targets(platform: Platform, env: Environment) -> list[tuple[str, str, str]]:
    """(URL, service, team) of every blackbox probe: the probed services, then the HTTP upstreams."""
    probes = [(platform.probe_url(s, env), s.name, s.team) for s in platform.probed_services]
    probes += [(d.address, d.name, d.team) for d in platform.dependencies if d.kind is DependencyKind.HTTP]
    return probes


def prober_address(platform: Platform, env: Environment) -> str:
    """Where Prometheus reaches the blackbox exporter."""
    if isinstance(env.runtime, Kubernetes):
        return cluster_address(platform.blackbox_address, env.runtime.namespace)
    return platform.blackbox_address


def _probe_job(platform: Platform, env: Environment) -> dict[str, Any] | None:
    probes = [{"targets": [url], "labels": _labels(name, team)} for url, name, team in probe_targets(platform, env)]
    if not probes:
        return None
    return {
        "job_name": PROBE_JOB,
        "metrics_path": "/probe",
        "params": {"module": [contract.BLACKBOX_HTTP_MODULE]},
        "static_configs": probes,
        # The blackbox exporter probes the URL given as ?target=; the URL becomes `instance`.
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": prober_address(platform, env)},
        ],
    }


def _node_job(platform: Platform, env: Environment) -> dict[str, Any]:
    labels = _labels("node", platform.infra_team)
    if not isinstance(env.runtime, Kubernetes):
        return {"job_name": "node", "static_configs": [{"targets": list(platform.node_targets), "labels": labels}]}
    # One node exporter per node on the host network (a DaemonSet, as every chart runs it): the
    # nodes come from the API (role node: the kubelet's address), scraped on the exporter's port.
    port = _port(platform.node_targets[0]) if platform.node_targets else 9100
    return {
        "job_name": "node",
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"action": "replace", "source_labels": ["__address__"], "regex": "(.+):[0-9]+", "replacement": f"${{1}}:{port}", "target_label": "__address__"},
            {"action": "replace", "source_labels": ["__meta_kubernetes_node_name"], "target_label": "node"},
            *({"action": "replace", "target_label": k, "replacement": v} for k, v in labels.items()),
        ],
    }


def _self_jobs(platform: Platform) -> Iterator[dict[str, Any]]:
    yield {
        "job_name": "prometheus",
        "static_configs": [{"targets": [platform.prometheus_address], "labels": _labels("prometheus", platform.infra_team)}],
    }
    yield {
        "job_name": "alertmanager",
        "static_configs": [{"targets": [host_port(platform.alertmanager_url, 9093)], "labels": _labels("alertmanager", platform.infra_team)}],
    }


def scrape_jobs(platform: Platform, env: Environment) -> Iterator[dict[str, Any]]:
    """The ``scrape_configs`` of the environment's ``prometheus.yml`` (none with the Operator)."""
    if isinstance(env.runtime, Kubernetes) and env.runtime.prometheus == "operator":
        return
    for service in platform.instrumented_services:
        yield _service_job(platform, service, env)
    for dep in platform.dependencies:
        if dep.kind.exporter:
            yield _exporter_job(platform, dep, env)
    yield _node_job(platform, env)
    probe = _probe_job(platform, env)
    if probe:
        yield probe
    yield from _self_jobs(platform)


# --- what Prometheus will have, whoever configures it ---------------------------------------------


def _static_jobs(platform: Platform, env: Environment) -> Iterator[MonitoredJob]:
    kinds: dict[str, JobKind] = {s.name: "service" for s in platform.instrumented_services}
    kinds.update({d.name: "exporter" for d in platform.dependencies})
    kinds.update({"node": "node", PROBE_JOB: "probe", "prometheus": "prometheus", "alertmanager": "alertmanager"})
    for job in scrape_jobs(platform, env):
        configs = job["static_configs"]
        name = job["job_name"]
        services = {c["labels"][contract.SERVICE_LABEL] for c in configs}
        if len(services) == 1:
            service, team = configs[0]["labels"][contract.SERVICE_LABEL], configs[0]["labels"][contract.TEAM_LABEL]
        else:
            # One job for many targets (the blackbox probes): the job itself belongs to the infra team.
            service, team = name, platform.infra_team
        yield MonitoredJob(name, kinds[name], service, team, configs[0]["targets"][0])


def _kubernetes_jobs(platform: Platform, env: Environment, runtime: Kubernetes) -> Iterator[MonitoredJob]:
    for service in platform.instrumented_services:
        yield MonitoredJob(service.name, "service", service.name, service.team, _example_instance(_service_port(service)))
    for dep in platform.dependencies:
        if dep.kind.exporter:
            yield MonitoredJob(dep.name, "exporter", dep.name, dep.team, _example_instance(_port(dep.exporter_address)))
    infra = platform.infra_team
    node_port = _port(platform.node_targets[0]) if platform.node_targets else 9100
    if runtime.prometheus == "operator":
        # kube-prometheus-stack's own monitors: job is its Service's name (or jobLabel).
        stack = stack_fullname(runtime.stack_release)
        yield MonitoredJob(STACK_NODE_JOB, "node", "node", infra, _example_instance(node_port))
        probes = probe_targets(platform, env)
        if probes:
            yield MonitoredJob(PROBE_JOB, "probe", PROBE_JOB, infra, probes[0][0])
        yield MonitoredJob(f"{stack}-prometheus", "prometheus", "prometheus", infra, _example_instance(9090))
        yield MonitoredJob(f"{stack}-alertmanager", "alertmanager", "alertmanager", infra, _example_instance(9093))
        return
    yield MonitoredJob("node", "node", "node", infra, _example_instance(node_port))
    probes = probe_targets(platform, env)
    if probes:
        yield MonitoredJob(PROBE_JOB, "probe", PROBE_JOB, infra, probes[0][0])
    yield MonitoredJob("prometheus", "prometheus", "prometheus", infra, platform.prometheus_address)
    yield MonitoredJob("alertmanager", "alertmanager", "alertmanager", infra, host_port(platform.alertmanager_url, 9093))


def monitored_jobs(platform: Platform, env: Environment) -> tuple[MonitoredJob, ...]:
    """Every ``job`` Prometheus will scrape in ``env``, in the order of :func:`scrape_jobs`, whether
    ``prometheus.yml``, pod discovery, obs's monitors or kube-prometheus-stack's configure it."""
    if isinstance(env.runtime, Kubernetes):
        return tuple(_kubernetes_jobs(platform, env, env.runtime))
    return tuple(_static_jobs(platform, env))


__all__ = [
    "EXPORTER_PORT_NAME",
    "MonitoredJob",
    "PROBE_JOB",
    "cluster_address",
    "deploys_blackbox",
    "deploys_exporter",
    "exporter_workload",
    "host_port",
    "monitored_jobs",
    "pod_selector",
    "port_name",
    "probe_targets",
    "prober_address",
    "scrape_jobs",
    "stack_fullname",
]
