"""Helm values for the charts that pick obs's objects up: plain dicts, no I/O.

kube-prometheus-stack (chart 88.5) reads obs's monitors and rules with its defaults (they carry its
``release`` label), but three things need its values:

- Alertmanager: ``alertmanager.alertmanagerSpec.useExistingSecret: true`` and ``configSecret``
  make the operator read obs's Secret instead of the one the chart renders from
  ``alertmanager.config``; ``secrets`` mounts the Secrets the receivers read their keys from, at
  ``/etc/alertmanager/secrets/<secret>/<key>``;
- Grafana's sidecar: ``folderAnnotation: grafana_folder`` with ``provider.foldersFromFilesStructure:
  true`` put each dashboard in its team's folder (both off by default, which puts every dashboard
  in "General"); ``isDefaultDatasource: false`` leaves the default to obs's Prometheus datasource,
  since Grafana refuses to start with two default datasources; ``envFromSecret`` gives Grafana the
  variables the datasource file reads (``$OBS_...``);
- Prometheus: the environment's external labels and intervals (``prometheusSpec``).

prometheus-adapter (chart 5.x) gets the Prometheus it asks and the custom-metrics rules the
HorizontalPodAutoscalers read (``rules.custom``, beside the chart's default rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from obs.kube.base import NO_LABELS, Labels, copy_data
from obs.kube.objects import (
    GRAFANA_DASHBOARD_LABEL,
    GRAFANA_DATASOURCE_LABEL,
    GRAFANA_FOLDER_ANNOTATION,
    GRAFANA_SIDECAR_LABEL_VALUE,
)

#: Labels the operator sets on every Prometheus itself; a value for them here would be refused.
OPERATOR_EXTERNAL_LABELS = frozenset({"prometheus", "prometheus_replica"})


def grafana_values(*, env_secret: str = "") -> dict[str, Any]:
    """The Grafana sidecar settings obs's ConfigMaps need, and the Secret Grafana's environment
    comes from when the datasources read variables."""
    values: dict[str, Any] = {
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": GRAFANA_DASHBOARD_LABEL,
                "labelValue": GRAFANA_SIDECAR_LABEL_VALUE,
                "folderAnnotation": GRAFANA_FOLDER_ANNOTATION,
                "provider": {"foldersFromFilesStructure": True},
            },
            "datasources": {
                "enabled": True,
                "label": GRAFANA_DATASOURCE_LABEL,
                "labelValue": GRAFANA_SIDECAR_LABEL_VALUE,
                "isDefaultDatasource": False,
            },
        }
    }
    if env_secret:
        values["envFromSecret"] = env_secret
    return values


def stack_values(
    *,
    alertmanager_secret: str,
    receiver_secrets: Sequence[str] = (),
    external_labels: Labels = NO_LABELS,
    scrape_interval: str = "",
    evaluation_interval: str = "",
    grafana_env_secret: str = "",
) -> dict[str, Any]:
    """kube-prometheus-stack values: Alertmanager from ``alertmanager_secret`` (a Secret's name, as
    :func:`obs.kube.alertmanager.alertmanager_secret` names it), the receivers' Secrets mounted,
    Grafana's sidecar, and Prometheus's external labels and intervals."""
    spec: dict[str, Any] = {"useExistingSecret": True, "configSecret": alertmanager_secret}
    if receiver_secrets:
        spec["secrets"] = sorted(set(receiver_secrets))
    prometheus_spec: dict[str, Any] = {}
    labels = {k: v for k, v in external_labels.items() if k not in OPERATOR_EXTERNAL_LABELS}
    if labels:
        prometheus_spec["externalLabels"] = dict(sorted(labels.items()))
    if scrape_interval:
        prometheus_spec["scrapeInterval"] = scrape_interval
    if evaluation_interval:
        prometheus_spec["evaluationInterval"] = evaluation_interval
    values: dict[str, Any] = {"alertmanager": {"alertmanagerSpec": spec}, "grafana": grafana_values(env_secret=grafana_env_secret)}
    if prometheus_spec:
        values["prometheus"] = {"prometheusSpec": prometheus_spec}
    return values


def adapter_chart_values(prometheus_url: str, rules: Sequence[Mapping[str, Any]], *, port: int = 9090) -> dict[str, Any]:
    """prometheus-adapter values: the Prometheus it queries (``http://host`` and port, as the chart
    takes them) and ``rules`` added to the chart's default ones."""
    return {"prometheus": {"url": prometheus_url, "port": port}, "rules": {"custom": [copy_data(rule) for rule in rules]}}


__all__ = ["OPERATOR_EXTERNAL_LABELS", "adapter_chart_values", "grafana_values", "stack_values"]
