"""The builders make objects that validate, shaped as kube-prometheus-stack picks them up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from obs import contract
from obs.kube import objects as k
from obs.kube.validate import kustomize, validate_object
from tests.kubernetes.test_kustomize import needs_kubectl

NS = "toolboxai-production"
RULE_GROUPS = [
    {
        "name": "backend-slo",
        "interval": "30s",
        "rules": [
            {"record": "service:requests:rate5m", "expr": "sum by (service) (rate(http_server_request_duration_seconds_count[5m]))"},
            {"alert": "HighErrorRate", "expr": "service:errors:ratio5m > 0.01", "for": "5m", "labels": {"severity": "page"}, "annotations": {"summary": "errors"}},
        ],
    }
]


def built() -> dict[str, dict[str, Any]]:
    """One object of every builder, as the Kubernetes renderer would call them."""
    token = k.SecretKey("backend-metrics", "token")
    targets = {"service": "backend", "team": "learning"}
    return {
        "namespace": k.namespace(NS, {"app": "toolboxai", "environment": "production"}),
        "service_monitor": k.service_monitor("backend", NS, selector={"app": "backend"}, port="http", target_labels=targets, bearer_token=token),
        "pod_monitor": k.pod_monitor("backend-pods", NS, selector={"app": "backend"}, port="http", interval="15s", target_labels=targets),
        "probe": k.probe(
            "cms", NS, prober_url="blackbox-exporter.monitoring.svc:9115", module=contract.BLACKBOX_HTTP_MODULE,
            targets=["https://cms.example.org/ghost/api/admin/site/"], target_labels={"service": "cms", "team": "web"},
        ),
        "prometheus_rule": k.prometheus_rule("obs-backend", NS, RULE_GROUPS),
        "dashboards": k.grafana_dashboards_configmap("obs-dashboards-learning", NS, {"obs-svc-backend.json": '{"title": "backend"}\n'}, folder="learning"),
        "datasources": k.grafana_datasources_configmap("obs-datasources", NS, {"obs.yaml": "apiVersion: 1\ndatasources: []\n"}),
        "alertmanager_secret": k.alertmanager_secret("main", NS, "route: {receiver: log}\nreceivers: [{name: log}]\n"),
        "deployment": k.exporter_deployment(
            "postgres-exporter", NS, image="quay.io/prometheuscommunity/postgres-exporter:v0.15.0", port=9187,
            env={"DATA_SOURCE_NAME": k.SecretKey("postgres-exporter", "dsn"), "PG_EXPORTER_AUTO_DISCOVER_DATABASES": "false"},
            writable_tmp=True,
        ),
        "service": k.exporter_service("postgres-exporter", NS, port=9187),
        "hpa": k.horizontal_pod_autoscaler("backend", NS, deployment="backend", pods_metric="http_server_requests_per_second"),
        "adapter": k.adapter_configmap("prometheus-adapter-obs", NS, [k.adapter_rate_rule(contract.HTTP_SERVER_REQUESTS.name, "http_server_requests_per_second")]),
    }


@pytest.mark.parametrize("name", sorted(built()))
def test_every_built_object_validates(name: str) -> None:
    assert validate_object(built()[name], f"{name}.yaml") == []


def test_monitoring_objects_carry_the_release_label_the_stack_selects_by() -> None:
    objects = built()
    for name in ("service_monitor", "pod_monitor", "probe", "prometheus_rule"):
        assert objects[name]["metadata"]["labels"] == {"release": "kube-prometheus-stack"}, name
    rule = k.prometheus_rule("obs-backend", NS, RULE_GROUPS, selected_by=k.stack_labels("monitoring", label="prometheus"), labels={"app": "obs"})
    assert rule["metadata"]["labels"] == {"app": "obs", "prometheus": "monitoring"}


def test_a_service_monitor_scrapes_the_named_port_with_a_token_from_a_secret_and_adds_service_and_team() -> None:
    assert built()["service_monitor"]["spec"] == {
        "selector": {"matchLabels": {"app": "backend"}},
        "namespaceSelector": {"matchNames": [NS]},
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "30s",
                "scheme": "http",
                "authorization": {"type": "Bearer", "credentials": {"name": "backend-metrics", "key": "token"}},
                "relabelings": [
                    {"action": "replace", "targetLabel": "service", "replacement": "backend"},
                    {"action": "replace", "targetLabel": "team", "replacement": "learning"},
                ],
            }
        ],
    }


def test_a_probe_names_its_prober_module_and_static_targets() -> None:
    assert built()["probe"]["spec"] == {
        "jobName": "cms",
        "interval": "30s",
        "module": "http_2xx",
        "prober": {"url": "blackbox-exporter.monitoring.svc:9115", "path": "/probe", "scheme": "http"},
        "targets": {"staticConfig": {"static": ["https://cms.example.org/ghost/api/admin/site/"], "labels": {"service": "cms", "team": "web"}}},
    }


def test_a_prometheus_rule_holds_exactly_the_groups_it_was_given_and_shares_nothing() -> None:
    rule = built()["prometheus_rule"]
    assert rule["spec"]["groups"] == RULE_GROUPS
    rule["spec"]["groups"][0]["rules"].clear()
    assert len(RULE_GROUPS[0]["rules"]) == 2


def test_grafana_configmaps_carry_the_sidecar_label_and_folder_annotation() -> None:
    objects = built()
    assert objects["dashboards"]["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert objects["dashboards"]["metadata"]["annotations"] == {"grafana_folder": "learning"}
    assert objects["datasources"]["metadata"]["labels"] == {"grafana_datasource": "1"}
    custom = k.grafana_dashboards_configmap("d", NS, {"a.json": "{}"}, folder="web", label="dashboards", label_value="obs", folder_annotation="k8s-sidecar-target-directory")
    assert (custom["metadata"]["labels"], custom["metadata"]["annotations"]) == ({"dashboards": "obs"}, {"k8s-sidecar-target-directory": "web"})


def test_an_exporter_runs_locked_down() -> None:
    pod = built()["deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert container["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    assert container["livenessProbe"]["httpGet"] == container["readinessProbe"]["httpGet"] == {"path": "/", "port": "metrics"}
    assert container["env"] == [
        {"name": "DATA_SOURCE_NAME", "valueFrom": {"secretKeyRef": {"name": "postgres-exporter", "key": "dsn"}}},
        {"name": "PG_EXPORTER_AUTO_DISCOVER_DATABASES", "value": "false"},
    ]
    assert (container["volumeMounts"], pod["volumes"]) == ([{"name": "tmp", "mountPath": "/tmp"}], [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}])
    service = built()["service"]["spec"]
    assert service["selector"] == built()["deployment"]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "postgres-exporter"}


def test_the_hpa_scales_3_to_10_on_cpu_and_request_rate_per_pod() -> None:
    spec = built()["hpa"]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 10)
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {"type": "Pods", "pods": {"metric": {"name": "http_server_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
    ]


def test_the_adapter_rule_serves_the_contract_counter_per_pod() -> None:
    config = yaml.safe_load(built()["adapter"]["data"]["config.yaml"])
    assert config == {
        "rules": [
            {
                "seriesQuery": 'http_server_requests_total{namespace!="",pod!=""}',
                "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
                "name": {"matches": "^http_server_requests_total$", "as": "http_server_requests_per_second"},
                "metricsQuery": "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
            }
        ]
    }
    assert k.adapter_values(config["rules"]) == {"rules": {"custom": config["rules"]}}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: k.horizontal_pod_autoscaler("b", NS, deployment="b", min_replicas=5, max_replicas=3), "HorizontalPodAutoscaler b: replicas 5..3: need 1 <= min <= max"),
        (lambda: k.horizontal_pod_autoscaler("b", NS, deployment="b", cpu_utilization=170), "HorizontalPodAutoscaler b: cpu_utilization 170: a percentage of the request, 1 to 100"),
        (lambda: k.probe("cms", NS, prober_url="bb:9115", module="http_2xx", targets=[]), "Probe cms: targets is empty; give at least one URL to probe"),
        (lambda: k.grafana_dashboards_configmap("d", NS, {}, folder="web"), "ConfigMap d: no dashboards given"),
        (lambda: k.kustomization([]), "kustomization.yaml: resources is empty; list the files to apply"),
    ],
)
def test_nonsense_is_refused_in_one_line(call: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


@needs_kubectl
def test_a_folder_of_built_objects_builds_with_kustomize(tmp_path: Path) -> None:
    objects = built()
    for name, obj in objects.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(obj, sort_keys=True))
    kustomization = k.kustomization(sorted(f"{name}.yaml" for name in objects), labels={"app.kubernetes.io/managed-by": "obs"})
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    result = kustomize(tmp_path)
    assert result.problem == ""
    assert sorted((o["kind"], o["metadata"]["name"]) for o in result.objects) == sorted((o["kind"], o["metadata"]["name"]) for o in objects.values())
    deployment = next(o for o in result.objects if o["kind"] == "Deployment")
    # The label goes on every object but not into selectors, which cannot change under running pods.
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "obs"
    assert deployment["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "postgres-exporter"}}
    assert all(validate_object(o, "kustomize output") == [] for o in result.objects)
