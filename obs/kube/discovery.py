"""Plain Prometheus on Kubernetes: a scrape job that finds every pod of a service by its labels.

With ``role: pod``, Prometheus watches the pods of a namespace through the Kubernetes API and
makes one target per container port; the relabelings below keep the service's pods (by label and
port name), drop finished pods, and label each target with its ``namespace`` and ``pod`` (its
``instance`` is the pod's own IP and port) plus obs's ``service`` and ``team``. Every replica of
an autoscaled Deployment is scraped on its own, as the Prometheus Operator's PodMonitor does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from obs import contract

#: Target labels every Kubernetes target carries (the Prometheus Operator's names).
NAMESPACE_LABEL = contract.NAMESPACE_LABEL
POD_LABEL = contract.POD_LABEL


def pod_label_meta(label: str) -> str:
    """The meta label Prometheus gives a pod label (``app.kubernetes.io/name`` -> ``..._app_kubernetes_io_name``)."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label)


def label_selector(selector: Mapping[str, str]) -> str:
    """``app=backend,tier=web``: the API's label selector syntax, sorted."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def kubernetes_scrape_config(
    job_name: str,
    *,
    namespace: str,
    selector: Mapping[str, str],
    port_name: str,
    service: str,
    team: str,
    metrics_path: str = "/metrics",
    scheme: str = "http",
    api_server: str | None = None,
    credentials_file: str | None = None,
) -> dict[str, Any]:
    """A ``scrape_configs`` entry scraping each pod in ``namespace`` matching ``selector`` on its
    container port named ``port_name``.

    The selector goes to the API server too (``selectors``), so Prometheus watches only those pods;
    the ``keep`` relabelings say the same for whoever reads the configuration. ``api_server`` is
    for a Prometheus outside the cluster (inside, it uses its service account);
    ``credentials_file`` is a bearer token file for the pods' metrics endpoint.
    """
    if not selector:
        raise ValueError(f"scrape job {job_name}: selector is empty; give the labels that pick the service's pods (e.g. app={service})")
    sd_config: dict[str, Any] = {
        "role": "pod",
        "namespaces": {"names": [namespace]},
        "selectors": [{"role": "pod", "label": label_selector(selector)}],
    }
    if api_server is not None:
        sd_config["api_server"] = api_server
    relabel: list[dict[str, Any]] = [
        {"action": "keep", "source_labels": [pod_label_meta(k)], "regex": re.escape(v)} for k, v in sorted(selector.items())
    ]
    relabel += [
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": re.escape(port_name)},
        # A finished pod keeps its IP for a while; its target would only ever be down.
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        {"action": "replace", "source_labels": ["__meta_kubernetes_namespace"], "target_label": NAMESPACE_LABEL},
        {"action": "replace", "source_labels": ["__meta_kubernetes_pod_name"], "target_label": POD_LABEL},
        {"action": "replace", "target_label": contract.SERVICE_LABEL, "replacement": service},
        {"action": "replace", "target_label": contract.TEAM_LABEL, "replacement": team},
    ]
    job: dict[str, Any] = {
        "job_name": job_name,
        "metrics_path": metrics_path,
        "scheme": scheme,
        "kubernetes_sd_configs": [sd_config],
        "relabel_configs": relabel,
    }
    if credentials_file is not None:
        job["authorization"] = {"type": "Bearer", "credentials_file": credentials_file}
    return job


__all__ = ["NAMESPACE_LABEL", "POD_LABEL", "kubernetes_scrape_config", "label_selector", "pod_label_meta"]
