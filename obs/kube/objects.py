"""Pure builders of the Kubernetes objects obs writes for a cluster: plain dicts, no I/O.

Shaped the way kube-prometheus-stack (chart 88.5, Prometheus Operator 0.93) picks them up:

- its Prometheus selects ServiceMonitors, PodMonitors, Probes and PrometheusRules by the label
  ``release: <Helm release>`` (``*SelectorNilUsesHelmValues: true``); :func:`stack_labels` makes it;
- its Grafana sidecar loads ConfigMaps labelled ``grafana_dashboard: "1"`` and
  ``grafana_datasource: "1"``; the dashboard folder comes from the ``grafana_folder`` annotation
  once the chart sets ``grafana.sidecar.dashboards.folderAnnotation: grafana_folder`` and
  ``...provider.foldersFromFilesStructure: true`` (both off by default);
- its Alertmanager reads ``alertmanager.yaml`` from the Secret ``alertmanager-<name>``, or
  AlertmanagerConfig objects (:mod:`obs.kube.alertmanager`).

Texts held in ConfigMaps (dashboards, datasources) come in finished, as the other artifact groups
rendered them; the builders do not serialize them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from obs.kube.alertmanager import alertmanager_config, alertmanager_secret, mounted_secret_file
from obs.kube.base import NO_LABELS, Labels, SecretKey, copy_data, object_meta
from obs.writer import dump_yaml

MONITORING_API = "monitoring.coreos.com/v1"
#: kube-prometheus-stack's default selector label, and the release name its install guide uses.
STACK_SELECTOR_LABEL = "release"
DEFAULT_RELEASE = "kube-prometheus-stack"
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
GRAFANA_DATASOURCE_LABEL = "grafana_datasource"
GRAFANA_SIDECAR_LABEL_VALUE = "1"
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"
#: "nobody" in the Debian and distroless images the Prometheus exporters ship on.
NON_ROOT_UID = 65534


def stack_labels(release: str = DEFAULT_RELEASE, label: str = STACK_SELECTOR_LABEL) -> dict[str, str]:
    """The label a kube-prometheus-stack release selects monitoring objects by."""
    return {label: release}


DEFAULT_STACK_LABELS: Labels = MappingProxyType(stack_labels())


def namespace(name: str, labels: Labels = NO_LABELS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(name, labels=labels)}


# --- what Prometheus scrapes ----------------------------------------------------------------------


def _relabelings(target_labels: Labels) -> list[dict[str, str]]:
    """Relabelings that set fixed target labels (``service``, ``team``), in a stable order."""
    return [{"action": "replace", "targetLabel": label, "replacement": value} for label, value in sorted(target_labels.items())]


def _endpoint(port: str, path: str, interval: str, scheme: str, target_labels: Labels, bearer_token: SecretKey | None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"port": port, "path": path, "interval": interval, "scheme": scheme}
    if target_labels:
        endpoint["relabelings"] = _relabelings(target_labels)
    if bearer_token is not None:
        # `authorization` replaces the deprecated bearerTokenSecret; the Secret stays in the namespace.
        endpoint["authorization"] = {"type": "Bearer", "credentials": bearer_token.selector()}
    return endpoint


def _monitor(
    kind: str,
    endpoints_field: str,
    name: str,
    namespace: str,
    selector: Labels,
    namespaces: Sequence[str],
    endpoint: dict[str, Any],
    labels: Labels,
    selected_by: Labels,
) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_API,
        "kind": kind,
        "metadata": object_meta(name, namespace, {**labels, **selected_by}),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": list(namespaces or [namespace])},
            endpoints_field: [endpoint],
        },
    }


def service_monitor(
    name: str,
    namespace: str,
    *,
    selector: Labels,
    port: str,
    path: str = "/metrics",
    interval: str = "30s",
    scheme: str = "http",
    namespaces: Sequence[str] = (),
    target_labels: Labels = NO_LABELS,
    bearer_token: SecretKey | None = None,
    labels: Labels = NO_LABELS,
    selected_by: Labels = DEFAULT_STACK_LABELS,
) -> dict[str, Any]:
    """Scrape every endpoint of the Services matching ``selector`` on the Service port named ``port``.

    ``namespaces`` default to the object's own; ``target_labels`` (``service``, ``team``) are set on
    every target by relabelings, after the ``namespace``/``pod``/``service`` labels the operator adds.
    """
    endpoint = _endpoint(port, path, interval, scheme, target_labels, bearer_token)
    return _monitor("ServiceMonitor", "endpoints", name, namespace, selector, namespaces, endpoint, labels, selected_by)


def pod_monitor(
    name: str,
    namespace: str,
    *,
    selector: Labels,
    port: str,
    path: str = "/metrics",
    interval: str = "30s",
    scheme: str = "http",
    namespaces: Sequence[str] = (),
    target_labels: Labels = NO_LABELS,
    bearer_token: SecretKey | None = None,
    labels: Labels = NO_LABELS,
    selected_by: Labels = DEFAULT_STACK_LABELS,
) -> dict[str, Any]:
    """Scrape every pod matching ``selector`` on the container port named ``port`` (no Service needed)."""
    endpoint = _endpoint(port, path, interval, scheme, target_labels, bearer_token)
    return _monitor("PodMonitor", "podMetricsEndpoints", name, namespace, selector, namespaces, endpoint, labels, selected_by)


def probe(
    name: str,
    namespace: str,
    *,
    prober_url: str,
    module: str,
    targets: Sequence[str],
    target_labels: Labels = NO_LABELS,
    interval: str = "30s",
    prober_path: str = "/probe",
    prober_scheme: str = "http",
    job_name: str = "",
    labels: Labels = NO_LABELS,
    selected_by: Labels = DEFAULT_STACK_LABELS,
) -> dict[str, Any]:
    """Probe static ``targets`` through a blackbox exporter at ``prober_url`` (``host:port``).

    ``job_name`` is the targets' ``job`` label (default: the object's name); several Probes may
    share one, each with its own ``target_labels``."""
    if not targets:
        raise ValueError(f"Probe {name}: targets is empty; give at least one URL to probe")
    static: dict[str, Any] = {"static": list(targets)}
    if target_labels:
        static["labels"] = dict(target_labels)
    return {
        "apiVersion": MONITORING_API,
        "kind": "Probe",
        "metadata": object_meta(name, namespace, {**labels, **selected_by}),
        "spec": {
            "jobName": job_name or name,
            "interval": interval,
            "module": module,
            "prober": {"url": prober_url, "path": prober_path, "scheme": prober_scheme},
            "targets": {"staticConfig": static},
        },
    }


def prometheus_rule(
    name: str,
    namespace: str,
    groups: Sequence[Mapping[str, Any]],
    *,
    labels: Labels = NO_LABELS,
    selected_by: Labels = DEFAULT_STACK_LABELS,
) -> dict[str, Any]:
    """The rule groups of one rule file (as promtool reads it), for the stack's ruleSelector."""
    copied = [copy_data(group) for group in groups]
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": object_meta(name, namespace, {**labels, **selected_by}),
        "spec": {"groups": copied},
    }


# --- Grafana --------------------------------------------------------------------------------------


def grafana_dashboards_configmap(
    name: str,
    namespace: str,
    files: Mapping[str, str],
    *,
    folder: str,
    label: str = GRAFANA_DASHBOARD_LABEL,
    label_value: str = GRAFANA_SIDECAR_LABEL_VALUE,
    folder_annotation: str = GRAFANA_FOLDER_ANNOTATION,
    labels: Labels = NO_LABELS,
) -> dict[str, Any]:
    """Dashboards (file name -> JSON text) for the Grafana sidecar, in Grafana folder ``folder``."""
    if not files:
        raise ValueError(f"ConfigMap {name}: no dashboards given")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, namespace, {**labels, label: label_value}, {folder_annotation: folder}),
        "data": dict(sorted(files.items())),
    }


def grafana_datasources_configmap(
    name: str,
    namespace: str,
    files: Mapping[str, str],
    *,
    label: str = GRAFANA_DATASOURCE_LABEL,
    label_value: str = GRAFANA_SIDECAR_LABEL_VALUE,
    labels: Labels = NO_LABELS,
) -> dict[str, Any]:
    """Grafana datasource provisioning files (file name -> YAML text) for the sidecar."""
    if not files:
        raise ValueError(f"ConfigMap {name}: no datasource files given")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, namespace, {**labels, label: label_value}),
        "data": dict(sorted(files.items())),
    }


# --- workloads -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resources:
    """Requests the scheduler reserves and limits the kubelet enforces, in Kubernetes quantities."""

    cpu_request: str = "10m"
    memory_request: str = "32Mi"
    cpu_limit: str = "200m"
    memory_limit: str = "128Mi"

    def spec(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def selector_labels(name: str) -> dict[str, str]:
    """The labels a workload's pods carry and its Deployment and Service select on."""
    return {"app.kubernetes.io/name": name}


def _env(env: Mapping[str, str | SecretKey]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, value in sorted(env.items()):
        if isinstance(value, SecretKey):
            out.append({"name": key, "valueFrom": {"secretKeyRef": value.selector()}})
        else:
            out.append({"name": key, "value": value})
    return out


def exporter_deployment(
    name: str,
    namespace: str,
    *,
    image: str,
    port: int,
    port_name: str = "metrics",
    args: Sequence[str] = (),
    env: Mapping[str, str | SecretKey] = MappingProxyType({}),
    resources: Resources = Resources(),
    run_as_user: int = NON_ROOT_UID,
    probe_path: str = "/",
    writable_tmp: bool = False,
    config_maps: Mapping[str, str] = MappingProxyType({}),
    secrets: Mapping[str, str] = MappingProxyType({}),
    pod_annotations: Labels = NO_LABELS,
    replicas: int = 1,
    labels: Labels = NO_LABELS,
) -> dict[str, Any]:
    """One exporter as a Deployment that runs as ``run_as_user`` (not root) on a read-only root file
    system, with no privilege escalation, no capabilities, the runtime's seccomp profile, no API
    token, resource requests and limits, and HTTP liveness/readiness probes on ``port_name``.

    ``config_maps`` and ``secrets`` (name -> folder) are mounted read-only, each key a file;
    ``writable_tmp`` mounts an empty ``/tmp`` for images that write there; ``pod_annotations`` go
    on the pod template (a checksum of mounted configuration rolls the pods when it changes).
    """
    pod_labels = {**labels, **selector_labels(name)}
    probe = {"httpGet": {"path": probe_path, "port": port_name}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        "resources": resources.spec(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": probe,
        "readinessProbe": probe,
    }
    if args:
        container["args"] = list(args)
    if env:
        container["env"] = _env(env)
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": run_as_user,
            "runAsGroup": run_as_user,
            # Mounted Secrets and ConfigMaps belong to this group, so the non-root user reads them.
            "fsGroup": run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, (config_map, folder) in enumerate(sorted(config_maps.items())):
        volumes.append({"name": f"config-{i}", "configMap": {"name": config_map}})
        mounts.append({"name": f"config-{i}", "mountPath": folder, "readOnly": True})
    for i, (secret, folder) in enumerate(sorted(secrets.items())):
        # 0440 with the pod's group: readable by the non-root user, by nobody else.
        volumes.append({"name": f"secret-{i}", "secret": {"secretName": secret, "defaultMode": 0o440}})
        mounts.append({"name": f"secret-{i}", "mountPath": folder, "readOnly": True})
    if writable_tmp:
        volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}})
        mounts.append({"name": "tmp", "mountPath": "/tmp"})
    if volumes:
        container["volumeMounts"] = mounts
        pod_spec["volumes"] = volumes
    template_meta: dict[str, Any] = {"labels": pod_labels}
    if pod_annotations:
        template_meta["annotations"] = dict(pod_annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(name, namespace, pod_labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(name)},
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    }


def exporter_service(name: str, namespace: str, *, port: int, port_name: str = "metrics", labels: Labels = NO_LABELS) -> dict[str, Any]:
    """The ClusterIP Service in front of :func:`exporter_deployment`'s pods; ServiceMonitors select its labels."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, namespace, {**labels, **selector_labels(name)}),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(name),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}],
        },
    }


def horizontal_pod_autoscaler(
    name: str,
    namespace: str,
    *,
    deployment: str,
    min_replicas: int = 3,
    max_replicas: int = 10,
    cpu_utilization: int = 70,
    pods_metric: str | None = None,
    pods_target: str = "10",
    labels: Labels = NO_LABELS,
) -> dict[str, Any]:
    """autoscaling/v2 on CPU utilization (metrics-server) and, with ``pods_metric``, on a per-pod
    metric that prometheus-adapter serves (:func:`adapter_rate_rule`), averaged to ``pods_target``."""
    if not 1 <= min_replicas <= max_replicas:
        raise ValueError(f"HorizontalPodAutoscaler {name}: replicas {min_replicas}..{max_replicas}: need 1 <= min <= max")
    if not 1 <= cpu_utilization <= 100:
        raise ValueError(f"HorizontalPodAutoscaler {name}: cpu_utilization {cpu_utilization}: a percentage of the request, 1 to 100")
    metrics: list[dict[str, Any]] = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_utilization}}}
    ]
    if pods_metric:
        metrics.append({"type": "Pods", "pods": {"metric": {"name": pods_metric}, "target": {"type": "AverageValue", "averageValue": pods_target}}})
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_meta(name, namespace, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": metrics,
        },
    }


# --- prometheus-adapter (chart 5.3, adapter 0.12) ------------------------------------------------


def adapter_rate_rule(series: str, metric: str, *, window: str = "2m", namespace_label: str = "namespace", pod_label: str = "pod") -> dict[str, Any]:
    """A custom-metrics rule serving ``metric`` per pod: the per-second rate of counter ``series``.

    The series must carry the pod's ``namespace`` and ``pod`` labels, as a ServiceMonitor, a
    PodMonitor or :func:`obs.kube.discovery.kubernetes_scrape_config` give them.
    """
    return {
        "seriesQuery": f'{series}{{{namespace_label}!="",{pod_label}!=""}}',
        "resources": {"overrides": {namespace_label: {"resource": "namespace"}, pod_label: {"resource": "pod"}}},
        "name": {"matches": f"^{series}$", "as": metric},
        "metricsQuery": f"sum(rate(<<.Series>>{{<<.LabelMatchers>>}}[{window}])) by (<<.GroupBy>>)",
    }


def adapter_values(rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A prometheus-adapter Helm values fragment adding ``rules`` to the chart's default rules."""
    return {"rules": {"custom": [copy_data(rule) for rule in rules]}}


def adapter_configmap(name: str, namespace: str, rules: Sequence[Mapping[str, Any]], *, labels: Labels = NO_LABELS) -> dict[str, Any]:
    """The adapter's whole ``config.yaml`` as a ConfigMap, for the chart's ``rules.existing: <name>``
    (it replaces the chart's default rules)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, namespace, labels),
        "data": {"config.yaml": dump_yaml({"rules": [copy_data(rule) for rule in rules]})},
    }


def kustomization(resources: Sequence[str], *, labels: Labels = NO_LABELS) -> dict[str, Any]:
    """``kustomization.yaml`` listing ``resources`` (files relative to it); ``labels`` go on every
    object's metadata but never into selectors, which must not change under running pods."""
    if not resources:
        raise ValueError("kustomization.yaml: resources is empty; list the files to apply")
    out: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(resources)}
    if labels:
        out["labels"] = [{"pairs": dict(labels), "includeSelectors": False}]
    return out


__all__ = [
    "DEFAULT_RELEASE",
    "DEFAULT_STACK_LABELS",
    "GRAFANA_DASHBOARD_LABEL",
    "GRAFANA_DATASOURCE_LABEL",
    "GRAFANA_FOLDER_ANNOTATION",
    "GRAFANA_SIDECAR_LABEL_VALUE",
    "MONITORING_API",
    "NON_ROOT_UID",
    "STACK_SELECTOR_LABEL",
    "Labels",
    "Resources",
    "SecretKey",
    "adapter_configmap",
    "adapter_rate_rule",
    "adapter_values",
    "alertmanager_config",
    "alertmanager_secret",
    "grafana_dashboards_configmap",
    "grafana_datasources_configmap",
    "exporter_deployment",
    "exporter_service",
    "horizontal_pod_autoscaler",
    "kustomization",
    "mounted_secret_file",
    "namespace",
    "object_meta",
    "pod_monitor",
    "probe",
    "prometheus_rule",
    "selector_labels",
    "service_monitor",
    "stack_labels",
]
