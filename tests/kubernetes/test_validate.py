"""Validation of Kubernetes objects: one line per problem, ``<file>: <Kind>/<name>: <path>: <message>``.

Built-in kinds against Kubernetes 1.37's strict schemas (kubernetes-validate), Prometheus Operator
kinds against its CRD schemas kept in obs/schemas/kubernetes, names and sizes against the API
server's rules; unknown kinds are problems, not silence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs.kube import schemas
from obs.kube.validate import KUBERNETES_VERSION, validate_folder, validate_object, validate_objects
from tests.kubernetes.samples import DELETE, VALID, broken

F = "kubernetes/app.yaml"


def test_the_pinned_release_is_the_newest_kubernetes_validate_carries() -> None:
    import kubernetes_validate

    assert (KUBERNETES_VERSION, kubernetes_validate.__version__) == ("1.37.0", "1.37.0")
    assert schemas.schema_dir() is not None


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_object_of_each_kind_has_no_problem(kind: str) -> None:
    assert validate_object(VALID[kind], F) == []


CASES: list[tuple[str, str | tuple[str, ...], Any, list[str]]] = [
    # names, labels and keys the API server refuses
    ("Namespace", "metadata.name", "Toolbox_Prod", ["Namespace/Toolbox_Prod: metadata.name: 'Toolbox_Prod' is not a DNS-1123 label (lower case letters, digits, '-'; at most 63)"]),
    ("Namespace", "metadata.labels.environment", "production!", ["Namespace/toolboxai-production: metadata.labels.environment: label value 'production!' must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"]),
    ("Namespace", ("metadata", "labels", "team/x/y"), "a", ["Namespace/toolboxai-production: metadata.labels[team/x/y]: key 'team/x/y': prefix 'team/x' is not a DNS-1123 subdomain"]),
    ("Service", "metadata.name", "9-exporter", ["Service/9-exporter: metadata.name: '9-exporter' is not a DNS-1035 label (starts with a letter; lower case letters, digits, '-'; at most 63)"]),
    ("Service", "metadata.name", DELETE, ["Service/?: metadata.name: required field is missing (kubectl apply needs a name)"]),
    ("Deployment", "spec.template.spec.containers.0.ports.0.name", "postgres-metrics-port", ["Deployment/postgres-exporter: spec.template.spec.containers[0].ports[0].name: port name 'postgres-metrics-port' must be 1 to 15 lower case letters, digits and single inner '-', with a letter"]),
    ("ConfigMap", ("data", "dashboards/backend.json"), "{}", ["ConfigMap/obs-dashboards-learning: data[dashboards/backend.json]: key 'dashboards/backend.json' must be letters, digits, '-', '_' or '.' (a file name)"]),
    ("ConfigMap", ("data", "big.json"), "x" * 300_000, ["ConfigMap/obs-dashboards-learning: <root>: 300261 bytes: kubectl apply keeps the object in its last-applied-configuration annotation, at most 262144 bytes (split it, or apply with --server-side)"]),
    ("ConfigMap", ("data", "big.json"), "x" * 1_100_000, [
        "ConfigMap/obs-dashboards-learning: data: 1100048 bytes; a ConfigMap holds at most 1048576: split it",
        "ConfigMap/obs-dashboards-learning: <root>: 1100261 bytes: kubectl apply keeps the object in its last-applied-configuration annotation, at most 262144 bytes (split it, or apply with --server-side)",
    ]),
    # Kubernetes 1.37 schemas
    ("Deployment", "spec.template.spec.containers.0.ports.0.containerPort", "9187", ["Deployment/postgres-exporter: spec.template.spec.containers[0].ports[0].containerPort: '9187' is not of type integer"]),
    ("Deployment", "spec.template.spec.containers.0.imagePullPolicyy", "Always", ["Deployment/postgres-exporter: spec.template.spec.containers[0].imagePullPolicyy: unknown field"]),
    ("Deployment", "spec.selector", DELETE, ["Deployment/postgres-exporter: spec.selector: required field is missing"]),
    ("Service", "spec.ports.0.targetPort", 9187.5, ["Service/postgres-exporter: spec.ports[0].targetPort: 9187.5 is not of type string or integer"]),
    ("ConfigMap", ("data", "obs-svc-backend.json"), 1, ["ConfigMap/obs-dashboards-learning: data[obs-svc-backend.json]: 1 is not of type string"]),
    ("Secret", ("stringData", "alertmanager.yaml"), 5, ["Secret/alertmanager-main: stringData[alertmanager.yaml]: 5 is not of type string"]),
    ("Secret", "data", {"alertmanager.yaml": 5}, ["Secret/alertmanager-main: data[alertmanager.yaml]: 5 is not of type string"]),
    ("HorizontalPodAutoscaler", "spec.metrics.0.resource.target.averageUtilization", "70%", ["HorizontalPodAutoscaler/backend: spec.metrics[0].resource.target.averageUtilization: '70%' is not of type integer"]),
    ("HorizontalPodAutoscaler", "spec.scaleTargetRef", DELETE, ["HorizontalPodAutoscaler/backend: spec.scaleTargetRef: required field is missing"]),
    ("HorizontalPodAutoscaler", "apiVersion", "autoscaling/v2beta2", ["HorizontalPodAutoscaler/backend: apiVersion: HorizontalPodAutoscaler is served as autoscaling/v1 or autoscaling/v2, not autoscaling/v2beta2"]),
    # Prometheus Operator 0.93.1 CRDs
    ("ServiceMonitor", "spec.endpoints.0.interval", "30 seconds", ["ServiceMonitor/backend: spec.endpoints[0].interval: '30 seconds' is not a duration such as 30s, 5m or 1h30m"]),
    ("ServiceMonitor", "spec.endpoints.0.bearerToken", "s3cr3t", ["ServiceMonitor/backend: spec.endpoints[0].bearerToken: unknown field"]),
    ("ServiceMonitor", "spec.endpoints.0.scheme", "ftp", ["ServiceMonitor/backend: spec.endpoints[0].scheme: 'ftp' is not one of ['http', 'https', 'HTTP', 'HTTPS']"]),
    ("ServiceMonitor", "spec.selector", DELETE, ["ServiceMonitor/backend: spec.selector: required field is missing"]),
    ("ServiceMonitor", "metadata.lables", {"release": "x"}, ["ServiceMonitor/backend: metadata.lables: unknown field"]),
    ("PodMonitor", "spec.podMetricsEndpoints.0.port", 8080, ["PodMonitor/backend: spec.podMetricsEndpoints[0].port: 8080 is not of type string"]),
    ("PodMonitor", "apiVersion", "monitoring.coreos.com/v1alpha1", ["PodMonitor/backend: apiVersion: PodMonitor is served as monitoring.coreos.com/v1, not monitoring.coreos.com/v1alpha1"]),
    ("Probe", "spec.prober.scheme", "tcp", ["Probe/cms: spec.prober.scheme: 'tcp' is not one of ['http', 'https', 'HTTP', 'HTTPS']"]),
    ("Probe", "spec.prober.url", DELETE, ["Probe/cms: spec.prober.url: required field is missing"]),
    ("PrometheusRule", "spec.groups.0.rules.0.expr", DELETE, ["PrometheusRule/backend: spec.groups[0].rules[0].expr: required field is missing"]),
    ("PrometheusRule", "spec.groups.0.rules.1.for", "5 minutes", ["PrometheusRule/backend: spec.groups[0].rules[1].for: '5 minutes' is not a duration such as 30s, 5m or 1h30m"]),
    ("PrometheusRule", "spec.groups.1", {"name": "backend-slo", "rules": []}, ["PrometheusRule/backend: spec.groups: duplicate item with name='backend-slo': the list is keyed by name"]),
    # The CRD's Go pattern ^(?i)(abort|warn)?$ is case-insensitive, as in Go.
    ("PrometheusRule", "spec.groups.0.partial_response_strategy", "ABORT", []),
    ("PrometheusRule", "spec.groups.0.partial_response_strategy", "skip", ["PrometheusRule/backend: spec.groups[0].partial_response_strategy: 'skip' does not match '^(?i:(abort|warn)?$)'"]),
    ("AlertmanagerConfig", "spec.route.routes.0.matchers.0.matchType", "==", ["AlertmanagerConfig/obs: spec.route.routes[0].matchers[0].matchType: '==' is not one of ['!=', '=', '=~', '!~']"]),
    # Nested routes are left open by the CRD; they are checked as routes all the same.
    ("AlertmanagerConfig", "spec.route.routes.0.routes", [{"groupWait": "soon"}], ["AlertmanagerConfig/obs: spec.route.routes[0].routes[0].groupWait: 'soon' is not a duration such as 30s, 5m or 1h30m"]),
    ("AlertmanagerConfig", "spec.receivers.1.slackConfigs.0.apiURL", {"name": "learning-chat"}, ["AlertmanagerConfig/obs: spec.receivers[1].slackConfigs[0].apiURL.key: required field is missing"]),
    ("AlertmanagerConfig", "spec.route.groupBy", ["alertname", "alertname"], ["AlertmanagerConfig/obs: spec.route.groupBy: duplicate item 'alertname' in a list of unique items"]),
    # kinds nobody can check
    ("Service", "kind", "Servise", ["Servise/postgres-exporter: kind: unknown kind Servise of v1: not in Kubernetes 1.37.0 nor in the Prometheus Operator 0.93.1 CRDs in obs/schemas/kubernetes, so nothing can check it"]),
    ("Service", "apiVersion", DELETE, ["Service/postgres-exporter: apiVersion: required field is missing"]),
    ("Service", "kind", DELETE, ["?/postgres-exporter: kind: required field is missing"]),
]


@pytest.mark.parametrize(("kind", "path", "value", "expected"), CASES, ids=[f"{c[0]}-{c[1] if isinstance(c[1], str) else '.'.join(c[1])}-{i}" for i, c in enumerate(CASES)])
def test_each_problem_is_one_line_naming_file_object_and_path(kind: str, path: str | tuple[str, ...], value: Any, expected: list[str]) -> None:
    assert validate_object(broken(kind, path, value), F) == [f"{F}: {line}" for line in expected]


def test_something_that_is_not_an_object() -> None:
    assert validate_object(["a"], F) == [f"{F}: ?/?: <root>: not a Kubernetes object (a mapping with apiVersion, kind and metadata), got list"]


def test_problems_of_several_objects_come_in_their_order() -> None:
    objects = [broken("Probe", "spec.prober.url", DELETE), VALID["Namespace"], broken("Service", "kind", DELETE)]
    assert validate_objects(objects, F) == [f"{F}: Probe/cms: spec.prober.url: required field is missing", f"{F}: ?/postgres-exporter: kind: required field is missing"]


def test_a_folder_is_validated_file_by_file_as_kubectl_apply_f_reads_it(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "namespace.yaml").write_text(yaml.safe_dump(VALID["Namespace"]))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump_all([VALID["PrometheusRule"], broken("PrometheusRule", "spec.groups.0.rules.1.for", "5 minutes")]))
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [namespace.yaml]\n")  # not an API object: not checked as one
    (tmp_path / "helm").mkdir()  # kubectl apply -f (without -R) does not read subfolders: Helm values live there
    (tmp_path / "helm" / "values.yaml").write_text("grafana: {sidecar: {}}\n")
    assert validate_folder(tmp_path) == [
        f"{tmp_path}/broken.yaml: ?/?: <root>: cannot read: line 2, column 1: expected ',' or ']', but got '<stream end>'",
        f"{tmp_path}/rules.yaml: PrometheusRule/backend: spec.groups[0].rules[1].for: '5 minutes' is not a duration such as 30s, 5m or 1h30m",
    ]


def test_without_the_schema_folder_the_public_api_reports_the_first_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should kubernetes-validate lay its schemas out differently, its public validate() takes over."""
    monkeypatch.setattr(schemas, "schema_dir", lambda version=KUBERNETES_VERSION: None)
    two_problems = broken("Deployment", "spec.template.spec.containers.0.ports.0.containerPort", "9187")
    two_problems["spec"]["replicas"] = "one"
    assert validate_object(two_problems, F) == [f"{F}: Deployment/postgres-exporter: spec.replicas: 'one' is not of type integer"]
    assert validate_object(VALID["Service"], F) == []
    assert validate_object(broken("Service", "kind", "Servise"), F)[0].endswith("kind: unknown kind Servise of v1: not in Kubernetes 1.37.0 nor in the Prometheus Operator 0.93.1 CRDs in obs/schemas/kubernetes, so nothing can check it")
