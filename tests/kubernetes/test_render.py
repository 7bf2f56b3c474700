"""The kubernetes group: what an environment on Kubernetes gets, packaged from the other groups.

A platform with a Compose ``dev`` and a Kubernetes ``prod`` (``platforms.shop``) is rendered with
the Prometheus Operator and with plain Prometheus; every object is compared with the file of the
group it packages (rules, Alertmanager, Grafana, exporters) as that group wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs import contract
from obs.builder import render
from obs.errors import ModelError, RenderError
from obs.grafana import provisioning
from obs.kube.alertmanager import inline_secrets
from obs.model import ComponentOverride, Environment, Kubernetes, Team
from obs.renderers import kubernetes as kube
from obs.renderers.compose import COMPOSE_PATH
from obs.renderers.prometheus import CONFIG_PATH
from tests.kubernetes.platforms import NAMESPACE, RECEIVERS, shop

Files = dict[str, bytes]


def _render(prometheus: str) -> Files:
    return dict(render(shop(prometheus), root=Path(__file__).parent).files)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def operator() -> Files:
    return _render("operator")


@pytest.fixture(scope="module")
def plain() -> Files:
    return _render("plain")


def _objects(files: Files, env: str = "prod") -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object, for every object file of the environment's folder."""
    prefix = f"{env}/{kube.DIR}/"
    found = {}
    for path, data in files.items():
        if path.startswith(prefix) and path.endswith(".yaml") and "/" not in path.removeprefix(prefix):
            obj = yaml.safe_load(data)
            found[(obj["kind"], obj["metadata"]["name"])] = obj
    return found


def _yaml(files: Files, path: str) -> Any:
    return yaml.safe_load(files[path])


def test_compose_output_is_written_only_for_compose_and_kubernetes_output_only_for_kubernetes(operator: Files) -> None:
    assert f"dev/{COMPOSE_PATH}" in operator and f"prod/{COMPOSE_PATH}" not in operator
    assert not any(p.startswith(f"dev/{kube.DIR}/") for p in operator)
    assert f"prod/{kube.KUSTOMIZATION_PATH}" in operator and f"prod/{kube.NAMESPACE_PATH}" in operator


def test_the_namespace_carries_the_environment_labels(operator: Files) -> None:
    namespace = _objects(operator)[("Namespace", NAMESPACE)]
    assert namespace["metadata"]["labels"] == {
        "app": "shop",
        "environment": "production",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/managed-by": "obs",
    }


def _relabeled(endpoint: dict[str, Any]) -> dict[str, str]:
    return {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]}


def test_every_instrumented_service_is_a_pod_monitor_with_the_labels_compose_targets_have(operator: Files) -> None:
    objects = _objects(operator)
    api, worker = objects[("PodMonitor", "api")], objects[("PodMonitor", "worker")]
    for monitor in (api, worker):
        assert monitor["metadata"]["namespace"] == NAMESPACE
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"  # what the stack's Prometheus selects
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (api_endpoint,) = api["spec"]["podMetricsEndpoints"]
    assert api["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    assert (api_endpoint["port"], api_endpoint["path"], api_endpoint["interval"]) == ("http", "/metrics", "30s")
    assert _relabeled(api_endpoint) == {"job": "api", contract.SERVICE_LABEL: "api", contract.TEAM_LABEL: "core"}
    # The token file names the Secret and key, as the operator mounts them for a Prometheus.
    assert api_endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "api-metrics", "key": "token"}}
    (worker_endpoint,) = worker["spec"]["podMetricsEndpoints"]
    assert worker["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "shop-worker"}}
    assert worker_endpoint["port"] == "metrics" and "authorization" not in worker_endpoint
    assert not [key for key in objects if key[0] == "PodMonitor" and key[1] not in ("api", "worker")]


def test_exporters_are_service_monitors_and_probes_share_the_blackbox_job(operator: Files) -> None:
    objects = _objects(operator)
    for dep in ("postgres", "redis"):
        monitor = objects[("ServiceMonitor", dep)]
        service = objects[("Service", f"{dep}-exporter")]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "metrics"
        assert _relabeled(endpoint) == {"job": dep, contract.SERVICE_LABEL: dep, contract.TEAM_LABEL: "ops"}
    probe = objects[("Probe", "blackbox-http-site")]["spec"]
    assert probe["jobName"] == "blackbox-http" and probe["module"] == contract.BLACKBOX_HTTP_MODULE
    assert probe["prober"]["url"] == f"blackbox-exporter.{NAMESPACE}.svc:9115"
    assert probe["targets"]["staticConfig"] == {"static": ["https://shop.example/"], "labels": {contract.SERVICE_LABEL: "site", contract.TEAM_LABEL: "core"}}


def test_prometheus_rules_carry_exactly_the_rule_files_promtool_tests(operator: Files) -> None:
    objects = _objects(operator)
    rule_files = {p.rsplit("/", 1)[1].removesuffix(".yml"): _yaml(operator, p) for p in operator if p.startswith("prod/prometheus/rules/")}
    rules = {name.removeprefix("shop-"): obj for (kind, name), obj in objects.items() if kind == "PrometheusRule"}
    assert rule_files and rules.keys() == rule_files.keys()
    for name, content in rule_files.items():
        assert rules[name]["spec"]["groups"] == content["groups"], name
        assert rules[name]["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_alertmanager_reads_its_configuration_from_a_secret_that_references_the_receivers_secrets(operator: Files) -> None:
    secret = _objects(operator)[("Secret", "alertmanager-shop-prod")]
    assert secret["metadata"]["namespace"] == "monitoring"  # where the stack's Alertmanager runs
    config = yaml.safe_load(secret["stringData"]["alertmanager.yaml"])
    assert config == _yaml(operator, "prod/alertmanager/alertmanager.yml")
    assert inline_secrets(config) == []
    assert f"{RECEIVERS}/core-pager-key" in secret["stringData"]["alertmanager.yaml"]
    spec = _yaml(operator, f"prod/{kube.STACK_VALUES_PATH}")["alertmanager"]["alertmanagerSpec"]
    assert spec == {
        "useExistingSecret": True, "configSecret": "alertmanager-shop-prod", "secrets": ["alert-receivers"],
        "externalUrl": "http://alertmanager:9093",  # the model's alertmanager_url: the links in notifications
    }  # fmt: skip


def test_grafana_gets_a_configmap_per_dashboard_in_its_team_folder_and_the_datasources(operator: Files) -> None:
    objects = _objects(operator)
    dashboards = {p: json.loads(d) for p, d in operator.items() if p.startswith("prod/grafana/dashboards/")}
    maps = {name: obj for (kind, name), obj in objects.items() if kind == "ConfigMap" and "-dashboard-" in name}
    assert dashboards and len(maps) == len(dashboards)
    for path, dashboard in dashboards.items():
        team, file = path.split("/")[-2:]
        config_map = maps[f"shop-prod-dashboard-{file.removesuffix('.json')}"]
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": team}
        assert json.loads(config_map["data"][file]) == dashboard
    datasources = objects[("ConfigMap", "shop-prod-grafana-datasources")]
    assert datasources["metadata"]["labels"]["grafana_datasource"] == "1"
    assert yaml.safe_load(datasources["data"]["obs-shop-prod.yaml"]) == _yaml(operator, f"prod/{provisioning.DATASOURCES_PATH}")
    sidecar = _yaml(operator, f"prod/{kube.STACK_VALUES_PATH}")["grafana"]["sidecar"]
    assert sidecar["dashboards"]["folderAnnotation"] == "grafana_folder"
    assert sidecar["dashboards"]["provider"] == {"foldersFromFilesStructure": True}
    assert sidecar["datasources"]["isDefaultDatasource"] is False  # Grafana refuses two defaults


def _workloads(files: Files) -> list[dict[str, Any]]:
    return [obj for (kind, _), obj in _objects(files).items() if kind == "Deployment"]


def test_every_workload_runs_as_non_root_on_a_read_only_root_with_requests_and_limits(operator: Files) -> None:
    workloads = _workloads(operator)
    assert sorted(w["metadata"]["name"] for w in workloads) == ["blackbox-exporter", "postgres-exporter", "redis-exporter"]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert (security["readOnlyRootFilesystem"], security["allowPrivilegeEscalation"], security["capabilities"]) == (True, False, {"drop": ["ALL"]})
            assert set(container["resources"]) == {"requests", "limits"}
            assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_the_exporters_run_with_the_settings_the_exporters_group_wrote(operator: Files) -> None:
    objects = _objects(operator)
    pod = objects[("Deployment", "postgres-exporter")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    written = kube.env_lines(operator["prod/exporters/postgres/postgres.env"].decode())
    # The pod listens on its own interfaces: a Service's name cannot be bound.
    assert {e["name"]: e["value"] for e in container["env"]} == {**written, "PG_EXPORTER_WEB_LISTEN_ADDRESS": ":9187"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/run/secrets"]]["secret"]["secretName"] == "postgres-exporter"
    queries = objects[("ConfigMap", "postgres-exporter-queries")]["data"]["queries.yaml"]
    assert volumes[mounts["/etc/prometheus-postgres-exporter"]]["configMap"]["name"] == "postgres-exporter-queries"
    assert yaml.safe_load(queries) == _yaml(operator, "prod/exporters/postgres/queries.yaml")
    assert container["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]


def test_the_api_scales_from_3_to_10_pods_on_cpu_and_requests_per_pod_served_by_prometheus_adapter(operator: Files) -> None:
    hpa = _objects(operator)[("HorizontalPodAutoscaler", "api")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {"type": "Pods", "pods": {"metric": {"name": kube.REQUESTS_PER_SECOND}, "target": {"type": "AverageValue", "averageValue": "12500m"}}},
    ]
    adapter = _yaml(operator, f"prod/{kube.ADAPTER_VALUES_PATH}")
    assert adapter["prometheus"] == {"url": "http://kube-prometheus-stack-prometheus.monitoring.svc", "port": 9090}
    (rule,) = adapter["rules"]["custom"]
    assert rule["seriesQuery"] == f'{contract.HTTP_SERVER_REQUESTS.name}{{namespace!="",pod!=""}}'
    assert rule["name"]["as"] == kube.REQUESTS_PER_SECOND


def test_the_stack_gets_the_environment_external_labels(operator: Files) -> None:
    spec = _yaml(operator, f"prod/{kube.STACK_VALUES_PATH}")["prometheus"]["prometheusSpec"]
    assert spec["externalLabels"] == {"environment": "prod", "cluster": "eu-prod"}
    assert spec["scrapeInterval"] == spec["evaluationInterval"] == "30s"


def test_the_kustomization_lists_every_object_file_and_has_the_name_kubectl_apply_f_skips(operator: Files) -> None:
    kustomization = yaml.safe_load(operator[f"prod/{kube.KUSTOMIZATION_PATH}"])
    objects = sorted(p.rsplit("/", 1)[1] for p in operator if p.startswith(f"prod/{kube.DIR}/") and p.count("/") == 2 and p.endswith(".yaml"))
    assert kustomization["resources"] == objects and objects[0] == "00-namespace.yaml"
    assert not kube.KUSTOMIZATION_PATH.endswith((".yaml", ".yml", ".json"))


def test_plain_prometheus_finds_the_pods_itself_and_gets_config_and_rules_as_config_maps(plain: Files) -> None:
    objects = _objects(plain)
    assert not [key for key, obj in objects.items() if obj["apiVersion"].startswith("monitoring.coreos.com/")]
    jobs = {job["job_name"]: job for job in _yaml(plain, f"prod/{CONFIG_PATH}")["scrape_configs"]}
    api = jobs["api"]
    assert api["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [NAMESPACE]}, "selectors": [{"role": "pod", "label": "app=api"}]}]
    assert api["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/api-metrics/token"}
    assert jobs["worker"]["kubernetes_sd_configs"][0]["selectors"] == [{"role": "pod", "label": "app.kubernetes.io/name=shop-worker"}]
    assert jobs["postgres"]["kubernetes_sd_configs"][0]["selectors"] == [{"role": "pod", "label": "app.kubernetes.io/name=postgres-exporter"}]
    assert jobs["node"]["kubernetes_sd_configs"] == [{"role": "node"}]
    blackbox = jobs["blackbox-http"]["relabel_configs"][-1]
    assert blackbox == {"target_label": "__address__", "replacement": f"blackbox-exporter.{NAMESPACE}.svc:9115"}
    config_map = objects[("ConfigMap", "shop-prod-prometheus")]
    assert yaml.safe_load(config_map["data"]["prometheus.yml"]) == _yaml(plain, f"prod/{CONFIG_PATH}")
    rules = objects[("ConfigMap", "shop-prod-prometheus-rules")]["data"]
    written = {p.rsplit("/", 1)[1]: _yaml(plain, p) for p in plain if p.startswith("prod/prometheus/rules/")}
    assert {k: yaml.safe_load(v) for k, v in rules.items()} == written
    assert f"prod/{kube.GRAFANA_VALUES_PATH}" in plain and f"prod/{kube.STACK_VALUES_PATH}" not in plain
    assert _yaml(plain, f"prod/{kube.ADAPTER_VALUES_PATH}")["prometheus"] == {"url": "http://prometheus.monitoring.svc", "port": 9090}


def _with_prod(change: Callable[[Environment], Environment]) -> Any:
    platform = shop()
    envs = tuple(change(e) if e.name == "prod" else e for e in platform.environments)
    return platform.__class__(**{**{f: getattr(platform, f) for f in platform.__dataclass_fields__}, "environments": envs})


def test_a_receiver_secret_outside_the_operators_mount_stops_the_render() -> None:
    platform = shop()
    teams = tuple(Team(t.name, chat_channel=t.chat_channel, pager_key_file=f"/etc/alertmanager/secrets/{t.name}-pager-key", chat_webhook_url_file=t.chat_webhook_url_file) for t in platform.teams)
    broken = platform.__class__(**{**{f: getattr(platform, f) for f in platform.__dataclass_fields__}, "teams": teams})
    with pytest.raises(RenderError, match=r"^kubernetes: alertmanager.yaml: receivers\[\d+\]\.pagerduty_configs\[0\]\.routing_key_file: /etc/alertmanager/secrets/core-pager-key is not where the Prometheus Operator mounts Secrets; name the file /etc/alertmanager/secrets/<secret>/<key> \(e\.g\. /etc/alertmanager/secrets/alert-receivers/core-pager-key\)$"):
        render(broken, ["prod"], ["kubernetes"])


def test_requests_per_pod_on_a_service_without_the_request_counter_stops_the_render() -> None:
    from obs.model import Autoscaling

    broken = _with_prod(lambda e: Environment(**{**{f: getattr(e, f) for f in e.__dataclass_fields__}, "overrides": {**e.overrides, "site": ComponentOverride(autoscaling=Autoscaling(requests_per_pod=5))}}))
    with pytest.raises(RenderError, match=r"^kubernetes: services\[site\]\.autoscaling\.requests_per_pod: a static_site service exports no request counter to scale on; remove requests_per_pod \(CPU only\) or instrument the service$"):
        render(broken, ["prod"], ["kubernetes"])


@pytest.mark.parametrize(
    ("runtime", "override", "message"),
    [
        (Kubernetes(namespace="p"), ComponentOverride(address="127.0.0.1:5432"), r"environments\[prod\]\.overrides\[api\]: '127\.0\.0\.1:5432' is a loopback address, which no pod answers on \(leave targets empty"),
        (Kubernetes(namespace="p"), ComponentOverride(targets=("api-0.internal:8000",)), r"environments\[prod\]\.overrides\[api\]\.targets: a Kubernetes environment finds pods by labels, not fixed targets \(use selector and port_name instead\)"),
        (None, ComponentOverride(selector={"app": "api"}), r"environments\[prod\]\.overrides\[api\]\.selector: a compose environment finds services by address, not by selector \(remove it, or run"),
    ],
)
def test_a_wrong_combination_of_runtime_and_override_is_a_model_error(runtime: Kubernetes | None, override: ComponentOverride, message: str) -> None:
    kwargs: dict[str, Any] = {"runtime": runtime} if runtime else {}
    with pytest.raises(ModelError, match=message):
        Environment("prod", overrides={"api": override}, **kwargs)
