"""kube-prometheus-stack values of an environment with a metrics store and an HA pair: what the
Operator's Prometheus and Alertmanager need to match what ``prometheus.yml`` says on Compose."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from obs.builder import render
from obs.kube.base import SecretKey
from obs.kube.stack import remote_write_spec
from obs.model import MetricsStore, Team
from obs.renderers import kubernetes as kube
from obs.renderers import prometheus
from tests.scaleout.platforms import MIMIR, STORES, THANOS, shop


def _files(store: MetricsStore | None, *, replicas: int = 1, agent: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(kube-prometheus-stack values, prometheus.yml) of prod, on Kubernetes with the Operator."""
    platform = shop(
        store, replicas=replicas, agent=agent, cluster="eu-prod", alertmanager_url="https://alerts.example.org",
        teams=(Team("core", chat_channel="#core", pager_key_file="/etc/alertmanager/secrets/alert-receivers/core-pager"),),
    )  # fmt: skip
    prod = dataclasses.replace(platform.environments[0], prometheus_url="https://prometheus.example.org")
    platform = dataclasses.replace(platform, environments=(prod, *platform.environments[1:]))
    files = render(platform, ["prod"], ["kubernetes", "prometheus"]).files
    values = yaml.safe_load(files[f"prod/{kube.STACK_VALUES_PATH}"])
    return values, yaml.safe_load(files[f"prod/{prometheus.CONFIG_PATH}"])


def test_links_in_notifications_open_outside_the_cluster() -> None:
    values, _ = _files(None)
    assert values["prometheus"]["prometheusSpec"]["externalUrl"] == "https://prometheus.example.org"
    assert values["alertmanager"]["alertmanagerSpec"]["externalUrl"] == "https://alerts.example.org"
    assert "remoteWrite" not in values["prometheus"]["prometheusSpec"] and "replicas" not in values["prometheus"]["prometheusSpec"]


@pytest.mark.parametrize("kind", sorted(STORES))
def test_the_operators_prometheus_writes_to_the_store_as_prometheus_yml_does(kind: str) -> None:
    values, config = _files(STORES[kind], replicas=2)
    spec = values["prometheus"]["prometheusSpec"]
    (written,) = config["remote_write"]
    (entry,) = spec["remoteWrite"]
    assert entry["url"] == written["url"] and entry.get("headers") == written.get("headers")
    queue = written["queue_config"]
    assert entry["queueConfig"]["maxShards"] == queue["max_shards"] and entry["queueConfig"]["retryOnRateLimit"] is True
    assert entry["queueConfig"]["maxSamplesPerSend"] == queue["max_samples_per_send"]
    # Two replicas, told apart by the label the store deduplicates on; the label is the
    # Operator's to set, so it is not among the external labels.
    replica = "__replica__" if kind == "mimir" else "prometheus_replica"
    assert (spec["replicas"], spec["replicaExternalLabelName"]) == (2, replica)
    assert replica not in spec.get("externalLabels", {})
    assert spec["externalLabels"]["cluster"] == "eu-prod"


def test_credentials_come_from_secrets_not_files() -> None:
    (thanos,) = _files(THANOS)[0]["prometheus"]["prometheusSpec"]["remoteWrite"]
    assert thanos["authorization"] == {"type": "Bearer", "credentials": {"name": "thanos-token", "key": "token"}}
    assert thanos["headers"] == {"THANOS-TENANT": "shop-prod"}
    (mimir,) = _files(MIMIR)[0]["prometheus"]["prometheusSpec"]["remoteWrite"]
    assert mimir["basicAuth"] == {"username": {"name": "mimir-password", "key": "username"}, "password": {"name": "mimir-password", "key": "token"}}
    assert "password_file" not in yaml.safe_dump(mimir) and "credentials_file" not in yaml.safe_dump(thanos)


def test_agent_mode_reaches_the_chart() -> None:
    values, _ = _files(MIMIR, agent=True)
    assert values["prometheus"]["agentMode"] is True
    assert "agentMode" not in _files(MIMIR)[0]["prometheus"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"url": "http://s/w", "write_relabel_configs": [{"action": "labeldrop", "regex": "prometheus_replica"}]},
         {"url": "http://s/w", "writeRelabelConfigs": [{"action": "labeldrop", "regex": "prometheus_replica"}]}),
        ({"url": "http://s/w", "send_exemplars": True, "queue_config": {"min_backoff": "30ms"}},
         {"url": "http://s/w", "sendExemplars": True, "queueConfig": {"minBackoff": "30ms"}}),
    ],
)  # fmt: skip
def test_remote_write_entries_take_the_operators_field_names(entry: dict[str, Any], expected: dict[str, Any]) -> None:
    assert remote_write_spec(entry, lambda path: SecretKey("s", "k")) == expected


def test_a_queue_setting_the_operator_has_no_field_for_stops_the_render() -> None:
    with pytest.raises(ValueError, match=r"no Operator field for \['sample_age_limit'\]"):
        remote_write_spec({"url": "http://s/w", "queue_config": {"sample_age_limit": "1m"}}, lambda path: SecretKey("s", "k"))
