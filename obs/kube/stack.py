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
- Prometheus: the environment's external labels and intervals, its external URL (the links in
  notifications), its replicas with the label that tells them apart, and, with a metrics store,
  ``remoteWrite`` (``prometheusSpec``; the Operator's camelCase form of ``remote_write``, with
  credentials from Secrets instead of files) and agent mode.

prometheus-adapter (chart 5.x) gets the Prometheus it asks and the custom-metrics rules the
HorizontalPodAutoscalers read (``rules.custom``, beside the chart's default rules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from obs.kube.base import NO_LABELS, Labels, SecretKey, camel, copy_data
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


#: ``queue_config`` keys of a Prometheus ``remote_write`` the Operator has a field for: its own
#: name (:func:`camel`), or the one in ``_OPERATOR_NAMES``.
_QUEUE_KEYS = frozenset(
    {"capacity", "min_shards", "max_shards", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff", "retry_on_http_429"}
)
_OPERATOR_NAMES = {"retry_on_http_429": "retryOnRateLimit"}


def remote_write_spec(entry: Mapping[str, Any], secret_of: Callable[[str], SecretKey]) -> dict[str, Any]:
    """One Prometheus ``remote_write`` entry as the Operator's ``RemoteWriteSpec``.

    The Operator takes credentials from Secrets, not files: ``secret_of`` names the Secret key a
    credentials file stands for. A basic-auth username comes from the password's Secret, key
    ``username`` (the Operator reads both from Secrets)."""
    spec: dict[str, Any] = {"url": entry["url"]}
    if "name" in entry:
        spec["name"] = entry["name"]
    if entry.get("headers"):
        spec["headers"] = dict(entry["headers"])
    if "authorization" in entry:
        auth = entry["authorization"]
        spec["authorization"] = {"type": auth.get("type", "Bearer"), "credentials": secret_of(auth["credentials_file"]).selector()}
    if "basic_auth" in entry:
        password = secret_of(entry["basic_auth"]["password_file"])
        spec["basicAuth"] = {"username": SecretKey(password.name, "username").selector(), "password": password.selector()}
    if "queue_config" in entry:
        unknown = set(entry["queue_config"]) - _QUEUE_KEYS
        if unknown:
            raise ValueError(f"remote_write queue_config: no Operator field for {sorted(unknown)}")
        spec["queueConfig"] = {_OPERATOR_NAMES.get(k) or camel(k): v for k, v in entry["queue_config"].items()}
    if entry.get("send_exemplars"):
        spec["sendExemplars"] = True
    if entry.get("write_relabel_configs"):
        spec["writeRelabelConfigs"] = [{camel(k): v for k, v in r.items()} for r in entry["write_relabel_configs"]]
    return spec


def stack_values(
    *,
    alertmanager_secret: str,
    receiver_secrets: Sequence[str] = (),
    external_labels: Labels = NO_LABELS,
    scrape_interval: str = "",
    evaluation_interval: str = "",
    grafana_env_secret: str = "",
    prometheus_url: str = "",
    alertmanager_url: str = "",
    replicas: int = 1,
    replica_label: str = "prometheus_replica",
    remote_write: Sequence[Mapping[str, Any]] = (),
    agent_mode: bool = False,
) -> dict[str, Any]:
    """kube-prometheus-stack values: Alertmanager from ``alertmanager_secret`` (a Secret's name, as
    :func:`obs.kube.alertmanager.alertmanager_secret` names it), the receivers' Secrets mounted,
    Grafana's sidecar; Prometheus's external labels and intervals, the external URLs of both,
    ``replicas`` told apart by ``replica_label``, ``remote_write`` (already in the Operator's form,
    :func:`remote_write_spec`) and agent mode."""
    spec: dict[str, Any] = {"useExistingSecret": True, "configSecret": alertmanager_secret}
    if receiver_secrets:
        spec["secrets"] = sorted(set(receiver_secrets))
    if alertmanager_url:
        spec["externalUrl"] = alertmanager_url
    prometheus_spec: dict[str, Any] = {}
    labels = {k: v for k, v in external_labels.items() if k not in OPERATOR_EXTERNAL_LABELS | {replica_label}}
    if labels:
        prometheus_spec["externalLabels"] = dict(sorted(labels.items()))
    if scrape_interval:
        prometheus_spec["scrapeInterval"] = scrape_interval
    if evaluation_interval:
        prometheus_spec["evaluationInterval"] = evaluation_interval
    if prometheus_url:
        prometheus_spec["externalUrl"] = prometheus_url
    if replicas > 1:
        # The Operator labels each replica itself (prometheus_replica by default); a store that
        # deduplicates on another label (Mimir's __replica__) gets that name instead.
        prometheus_spec["replicas"] = replicas
        prometheus_spec["replicaExternalLabelName"] = replica_label
    if remote_write:
        prometheus_spec["remoteWrite"] = [copy_data(entry) for entry in remote_write]
    values: dict[str, Any] = {"alertmanager": {"alertmanagerSpec": spec}, "grafana": grafana_values(env_secret=grafana_env_secret)}
    if prometheus_spec or agent_mode:
        values["prometheus"] = {"prometheusSpec": prometheus_spec}
    if agent_mode:
        values["prometheus"]["agentMode"] = True
    return values


def adapter_chart_values(prometheus_url: str, rules: Sequence[Mapping[str, Any]], *, port: int = 9090) -> dict[str, Any]:
    """prometheus-adapter values: the Prometheus it queries (``http://host`` and port, as the chart
    takes them) and ``rules`` added to the chart's default ones."""
    return {"prometheus": {"url": prometheus_url, "port": port}, "rules": {"custom": [copy_data(rule) for rule in rules]}}


__all__ = ["OPERATOR_EXTERNAL_LABELS", "adapter_chart_values", "grafana_values", "remote_write_spec", "stack_values"]
