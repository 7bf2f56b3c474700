"""What ``obs check`` does with a written Kubernetes folder, and what kubectl does with it.

The folder of ``platforms.shop``'s ``prod`` is written by a real build; the checks pass on it and
fail, with the line that says why, on a copy broken the way a hand edit would break it.
``kubectl apply --dry-run=client`` runs against a stand-in API server (kubectl needs one to map
kinds to resources even for a dry run): it takes the folder with ``-f`` and with ``-k``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obs.builder import build
from obs.checks import compose as compose_checks
from obs.checks import kubernetes as kube_checks
from obs.checks import prometheus as prometheus_checks
from obs.kube.validate import find_kubectl, read_objects
from obs.renderers import kubernetes as kube
from tests.kubernetes.platforms import shop
from tests.kubernetes.stand_in_api import StandInAPI


@pytest.fixture(scope="module", params=["operator", "plain"])
def out(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp(f"shop-{request.param}") / "build"
    build(shop(request.param), target)
    return target


@pytest.fixture
def prod_copy(out: Path, tmp_path: Path) -> Path:
    """A private copy of the whole build (the checks read the manifest beside the environment)."""
    shutil.copytree(out, tmp_path / "build")
    return tmp_path / "build" / "prod"


def _outcomes(env_dir: Path) -> dict[str, tuple[str, str]]:
    return {o.name: (o.status, o.detail) for o in kube_checks.check(env_dir)}


def test_the_written_folder_passes_every_check(out: Path) -> None:
    outcomes = _outcomes(out / "prod")
    assert set(outcomes) == {
        "kubernetes schemas (1.37.0, operator 0.93.1)",
        "kubectl kustomize",
        "kustomization lists every file",
        "the cluster gets the rules promtool tests",
    }
    assert {name: status for name, (status, _) in outcomes.items()} == dict.fromkeys(outcomes, "passed"), outcomes


def test_each_runtime_is_checked_by_its_own_group_only(out: Path) -> None:
    assert list(kube_checks.check(out / "dev")) == []
    assert list(compose_checks.check(out / "prod")) == []
    assert next(o.name for o in compose_checks.check(out / "dev")) == "schema compose-spec"


def test_prometheus_config_with_pod_discovery_is_checked_by_promtool_and_vmagent(out: Path) -> None:
    outcomes = {o.name: o.status for o in prometheus_checks.check(out / "prod")}
    if "vmagent -promscrape.config.dryRun" not in outcomes:  # the operator writes no job to check
        assert outcomes == {"promtool check config": "passed"}
        return
    assert outcomes == {"promtool check config (all but the 5 kubernetes_sd jobs)": "passed", "vmagent -promscrape.config.dryRun": "passed"}


def _edit(path: Path, change: str, to: str) -> None:
    text = path.read_text()
    assert change in text
    path.write_text(text.replace(change, to, 1))


def test_a_rule_changed_in_the_cluster_folder_only_is_caught(prod_copy: Path) -> None:
    folder = prod_copy / kube.DIR
    plain = folder / "configmap-shop-prod-prometheus-rules.yaml"
    _edit(plain if plain.exists() else folder / "prometheusrule-shop-slo-api-availability.yaml", "slo:objective:ratio", "slo:objective:ratio_edited")
    expected = (
        ["ConfigMap/shop-prod-prometheus-rules: slo-api-availability.yml is not as written in prometheus/rules"]
        if plain.exists()
        else [
            "PrometheusRule/shop-slo-api-availability: its groups are those of no rule file prometheus.yml loads",
            "prometheus/rules/slo-api-availability.yml: no PrometheusRule carries its groups",
        ]
    )
    assert _outcomes(prod_copy)["the cluster gets the rules promtool tests"] == ("failed", "\n".join(expected))


def test_a_file_left_out_of_the_kustomization_is_caught(prod_copy: Path) -> None:
    _edit(prod_copy / kube.KUSTOMIZATION_PATH, "- 00-namespace.yaml\n", "")
    status, detail = _outcomes(prod_copy)["kustomization lists every file"]
    assert (status, detail) == (
        "failed",
        f"{prod_copy / kube.NAMESPACE_PATH}: Namespace/shop-production: <root>: not in what kubectl kustomize builds (list 00-namespace.yaml under resources in kustomization.yaml)",
    )


def test_an_object_broken_by_hand_fails_the_schema_check(prod_copy: Path) -> None:
    _edit(prod_copy / kube.DIR / "deployment-redis-exporter.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: maybe")
    status, detail = _outcomes(prod_copy)["kubernetes schemas (1.37.0, operator 0.93.1)"]
    assert status == "failed"
    assert detail.endswith("deployment-redis-exporter.yaml: Deployment/redis-exporter: spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem: 'maybe' is not of type boolean")


# --- kubectl apply ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl() -> Iterator[tuple[list[str], StandInAPI]]:
    command = find_kubectl()
    if command is None:
        pytest.skip("kubectl not found (apt-get install -y kubernetes-client)")
    with StandInAPI() as api:
        yield command, api


def _apply(kubectl: tuple[list[str], StandInAPI], *args: str) -> subprocess.CompletedProcess[str]:
    command, api = kubectl
    # --validate=false: validation would fetch the OpenAPI documents, which the stand-in does not serve
    # (the schema check above is that validation, offline).
    return subprocess.run(
        [*command, "apply", "--dry-run=client", "--validate=false", "--server", api.url, "--insecure-skip-tls-verify", "-o", "name", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _expected_names(folder: Path) -> list[str]:
    names = []
    for path in sorted(folder.glob("*.yaml")):
        for obj in read_objects(path):
            group = obj["apiVersion"].rpartition("/")[0]
            kind = obj["kind"].lower() + (f".{group}" if group else "")
            names.append(f"{kind}/{obj['metadata']['name']}")
    return names


@pytest.mark.parametrize("how", ["-f", "-k"])
def test_kubectl_apply_takes_the_folder_as_it_is(out: Path, kubectl: tuple[list[str], StandInAPI], how: str) -> None:
    folder = out / "prod" / kube.DIR
    result = _apply(kubectl, how, str(folder))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(_expected_names(folder))


def test_a_kustomization_yaml_would_be_applied_as_an_object_which_is_why_the_file_is_named_kustomization(
    out: Path, kubectl: tuple[list[str], StandInAPI], tmp_path: Path
) -> None:
    folder = tmp_path / "kubernetes"
    shutil.copytree(out / "prod" / kube.DIR, folder)
    (folder / "Kustomization").rename(folder / "kustomization.yaml")
    result = _apply(kubectl, "-f", str(folder))
    assert result.returncode == 1
    assert 'no matches for kind "Kustomization" in version "kustomize.config.k8s.io/v1beta1"' in result.stderr


def test_helm_values_are_not_objects_and_stay_out_of_the_folder_kubectl_reads(out: Path) -> None:
    helm = out / "prod" / kube.HELM_DIR
    assert sorted(p.name for p in helm.iterdir())
    for values in helm.iterdir():
        assert "apiVersion" not in yaml.safe_load(values.read_text())
