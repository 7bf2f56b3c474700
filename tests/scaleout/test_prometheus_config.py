"""What a metrics store and an HA pair change in prometheus.yml, judged by promtool."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.errors import ModelError
from obs.model import Environment, MetricsStore, Service
from obs.renderers import prometheus
from obs.renderers.ruler import PLACEMENT_PATH
from obs.scaleout import estimated_series, prometheus_features, queue_config
from obs.writer import dump_yaml
from tests.scaleout.platforms import MIMIR, STORES, THANOS, VM, shop

promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (apt-get install -y prometheus)")


def _config(platform: Any, env: str = "prod") -> dict[str, Any]:
    from obs.builder import render

    result = render(platform, [env], ["prometheus"])
    data: dict[str, Any] = yaml.safe_load(result.files[f"{env}/{prometheus.CONFIG_PATH}"])
    return data


# --- the model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        (
            {"kind": "cortex", "write_url": "mimir/push", "query_url": "ftp://x"},
            ["metrics_store.kind: 'cortex' is not a store kind", "metrics_store.write_url", "metrics_store.query_url"],
        ),
        (
            {"kind": "mimir", "write_url": "https://u:p@mimir/api/v1/push", "query_url": "https://mimir/prometheus", "tenant": "a b"},
            ["metrics_store.write_url: holds credentials", "metrics_store.tenant: 'a b' is not a tenant id"],
        ),
        (
            {"kind": "thanos", "write_url": "http://r/api/v1/receive", "query_url": "http://q", "bearer_token_file": "token",
             "basic_auth_username": "u"},
            ["metrics_store.bearer_token_file: 'token' is not an absolute path", "metrics_store.basic_auth_username: basic auth needs both",
             "metrics_store.bearer_token_file: a store takes a bearer token or basic auth, not both"],
        ),
        (
            {"kind": "victoriametrics", "write_url": "http://vminsert:8480/api/v1/write", "query_url": "http://vmselect:8481/select/0/prometheus",
             "tenant": "42"},
            ["metrics_store.write_url: a VictoriaMetrics cluster reads the tenant from the URL", "metrics_store.query_url: a VictoriaMetrics cluster"],
        ),
        (
            {"kind": "victoriametrics", "write_url": "http://vm/api/v1/write", "query_url": "http://vm", "tenant": "team-a"},
            ["metrics_store.tenant: 'team-a' is not a VictoriaMetrics tenant"],
        ),
    ],
)  # fmt: skip
def test_every_mistake_of_a_store_is_reported_at_once(fields: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(ModelError) as caught:
        MetricsStore(**fields)
    message = str(caught.value)
    for problem in problems:
        assert problem in message
    assert message.count("metrics_store.") == len(problems)


def test_a_victoriametrics_cluster_names_its_tenant_in_both_urls() -> None:
    store = MetricsStore(
        kind="victoriametrics", tenant="42:7",
        write_url="http://vminsert:8480/insert/42:7/prometheus/api/v1/write", query_url="http://vmselect:8481/select/42:7/prometheus",
    )  # fmt: skip
    assert store.tenant == "42:7"


# --- prometheus.yml -------------------------------------------------------------------------------------


def test_without_a_store_nothing_changes() -> None:
    config = _config(shop())
    assert "remote_write" not in config
    assert config["rule_files"] == [prometheus.RULES_GLOB]
    assert config["global"]["external_labels"] == {"environment": "prod", "region": "eu-west-1"}
    assert "alert_relabel_configs" not in config["alerting"]


@pytest.mark.parametrize(
    ("store", "header", "auth"),
    [
        (VM, None, None),
        (MIMIR, ("X-Scope-OrgID", "shop-prod"), {"basic_auth": {"username": "shop", "password_file": "/etc/prometheus/secrets/mimir-password"}}),
        (THANOS, ("THANOS-TENANT", "shop-prod"), {"authorization": {"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/thanos-token"}}),
    ],
)  # fmt: skip
def test_remote_write_names_the_tenant_and_reads_credentials_from_files(store: MetricsStore, header: Any, auth: Any) -> None:
    (write,) = _config(shop(store))["remote_write"]
    assert write["url"] == store.write_url
    assert write["name"] == store.kind
    assert write.get("headers") == (dict([header]) if header else None)
    for key, value in (auth or {}).items():
        assert write[key] == value
    assert not {"authorization", "basic_auth"} & set(write) if auth is None else True
    assert write.get("send_exemplars") is (True if store.kind != "victoriametrics" else None)


@pytest.mark.parametrize(
    ("store", "replicas", "cluster", "labels"),
    [
        # A store needs every series to say which Prometheus sent it: the cluster, else the environment.
        (VM, 1, "", {"environment": "prod", "region": "eu-west-1", "cluster": "prod"}),
        (VM, 1, "eu-1", {"environment": "prod", "region": "eu-west-1", "cluster": "eu-1"}),
        (VM, 2, "eu-1", {"environment": "prod", "region": "eu-west-1", "cluster": "eu-1", "prometheus_replica": "${OBS_PROMETHEUS_REPLICA}"}),
        (THANOS, 2, "", {"environment": "prod", "region": "eu-west-1", "cluster": "prod", "prometheus_replica": "${OBS_PROMETHEUS_REPLICA}"}),
        # Mimir's HA tracker reads `cluster` and `__replica__` (its defaults).
        (MIMIR, 2, "eu-1", {"environment": "prod", "region": "eu-west-1", "cluster": "eu-1", "__replica__": "${OBS_PROMETHEUS_REPLICA}"}),
        (None, 2, "", {"environment": "prod", "region": "eu-west-1", "prometheus_replica": "${OBS_PROMETHEUS_REPLICA}"}),
    ],
)  # fmt: skip
def test_external_labels_keep_clusters_and_replicas_apart(store: MetricsStore | None, replicas: int, cluster: str, labels: dict[str, str]) -> None:
    config = _config(shop(store, replicas=replicas, cluster=cluster))
    assert config["global"]["external_labels"] == labels
    replica = next((k for k in labels if "replica" in k), None)
    relabel = config["alerting"].get("alert_relabel_configs")
    # The pair's alerts leave without the replica label: Alertmanager sees one alert.
    assert relabel == ([{"action": "labeldrop", "regex": replica}] if replica else None)
    writes = config.get("remote_write") or [{}]
    dropped = writes[0].get("write_relabel_configs")
    # VictoriaMetrics deduplicates identical series: the replica label must not reach it.
    assert dropped == ([{"action": "labeldrop", "regex": "prometheus_replica"}] if store is VM and replicas == 2 else None)
    expected_features = ("expand-external-labels",) if replicas == 2 else ()
    platform = shop(store, replicas=replicas, cluster=cluster)
    assert prometheus_features(platform.in_environment(platform.environments[0]), platform.environments[0]) == expected_features


def test_a_dollar_in_a_label_survives_the_replica_expansion() -> None:
    """expand-external-labels expands every value: a literal $ is written $$ (checked live in the HA test)."""
    env = Environment("prod", external_labels={"note": "costs $5"}, prometheus_replicas=2, metrics_store=VM)
    config = _config(_with_env(shop(VM), env))
    assert config["global"]["external_labels"]["note"] == "costs $$5"


def _with_env(platform: Any, env: Environment) -> Any:
    import dataclasses

    return dataclasses.replace(platform, environments=(env,))


def test_the_local_prometheus_loads_only_the_local_rule_files() -> None:
    config = _config(shop(VM))
    assert config["rule_files"]
    assert all(not Path(f).name.startswith("slo-") for f in config["rule_files"])
    assert "rules/services.yml" in config["rule_files"]


def test_an_agent_evaluates_nothing_and_alerts_nobody() -> None:
    platform = shop(VM, agent=True)
    config = _config(platform)
    assert "rule_files" not in config and "alerting" not in config
    assert config["remote_write"]
    assert prometheus_features(platform.in_environment(platform.environments[0]), platform.environments[0]) == ("agent",)


def test_queues_grow_with_the_platform() -> None:
    small = shop(VM)
    many = [Service(name=f"svc{i}", kind="fastapi", team="core", port=8000) for i in range(40)]  # type: ignore[arg-type]
    big = _with_env(shop(VM, services=(*small.services, *many)), Environment("prod", scrape_interval="10s", metrics_store=VM))
    small_env, big_env = small.environments[0], big.environments[0]
    assert estimated_series(big, big_env) > 10 * estimated_series(small, small_env)
    q_small, q_big = queue_config(small, small_env), queue_config(big, big_env)
    assert q_small["max_shards"] < q_big["max_shards"] <= 200
    assert q_small["min_shards"] <= q_big["min_shards"]
    assert q_big["capacity"] >= 3 * q_big["max_samples_per_send"]
    assert q_big["retry_on_http_429"] is True


@promtool
@pytest.mark.parametrize(
    ("kind", "replicas", "agent"),
    [(kind, replicas, agent) for kind in STORES for replicas in (1, 2) for agent in (False, True)],
)
def test_promtool_accepts_every_variant(tmp_path: Path, kind: str, replicas: int, agent: bool) -> None:
    import subprocess

    platform = shop(STORES[kind], replicas=replicas, agent=agent)
    config = _config(platform)
    (tmp_path / "rules").mkdir()
    for name in config.get("rule_files") or []:
        (tmp_path / name).write_text("groups: []\n")
    (tmp_path / "prometheus.yml").write_text(dump_yaml(config))
    args = ["promtool", "check", "config", "--syntax-only", *(["--agent"] if agent else []), "prometheus.yml"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@promtool
def test_promtool_refuses_an_agent_configuration_with_rules(tmp_path: Path) -> None:
    """The check the ruler group runs in agent mode can fail: a normal config is no agent's."""
    import subprocess

    config = _config(shop(VM))
    (tmp_path / "prometheus.yml").write_text(dump_yaml(config))
    done = subprocess.run(["promtool", "check", "config", "--syntax-only", "--agent", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "not allowed in agent mode" in done.stdout + done.stderr


def test_placement_is_always_written(tmp_path: Path) -> None:
    from obs.builder import render

    result = render(shop(), ["prod"], ["ruler"])
    placement = yaml.safe_load(result.files[f"prod/{PLACEMENT_PATH}"])
    assert placement["metrics_store"] is None and placement["ruler"] == []
    assert "prometheus/rules/slo-api-availability.yml" in placement["local"]
