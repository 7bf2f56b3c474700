"""``kubectl kustomize`` builds a folder offline; a missing kubectl is a skip that says what to install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.kube.validate import KUBECTL_MISSING, check, kustomize
from tests.kubernetes.samples import VALID, broken

needs_kubectl = pytest.mark.skipif(kustomize(Path(__file__).parent).skipped == KUBECTL_MISSING, reason=KUBECTL_MISSING)


def write_folder(folder: Path, files: dict[str, list[dict[str, Any]]], resources: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, objects in files.items():
        (folder / name).write_text(yaml.safe_dump_all(objects, sort_keys=True))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}))
    return folder


@needs_kubectl
def test_kustomize_returns_the_objects_of_the_folder(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "k", {"namespace.yaml": [VALID["Namespace"]], "rules.yaml": [VALID["PrometheusRule"], VALID["ServiceMonitor"]]}, ["namespace.yaml", "rules.yaml"])
    result = kustomize(folder)
    assert (result.ok, result.problem, result.skipped) == (True, "", "")
    # kustomize orders Namespaces first, then the rest by kind and name.
    assert [(o["kind"], o["metadata"]["name"]) for o in result.objects] == [("Namespace", "toolboxai-production"), ("PrometheusRule", "backend"), ("ServiceMonitor", "backend")]
    assert result.objects[1] == VALID["PrometheusRule"]


@needs_kubectl
def test_a_missing_resource_is_a_problem_in_one_line(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "k", {"namespace.yaml": [VALID["Namespace"]]}, ["namespace.yaml", "missing.yaml"])
    result = kustomize(folder)
    assert result.objects == ()
    assert result.problem.startswith(f"kubectl kustomize {folder}: accumulating resources: accumulation err='accumulating resources from 'missing.yaml'")
    assert "\n" not in result.problem


def test_without_kubectl_it_is_skipped_with_the_package_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBS_KUBECTL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = kustomize(tmp_path)
    assert (result.ok, result.skipped, result.problem) == (False, "skipped: kubectl not found (apt-get install -y kubernetes-client)", "")
    outcomes = list(check(tmp_path))
    assert [(o.name, o.status, o.detail) for o in outcomes][1:] == [("kubectl kustomize", "skipped", "skipped: kubectl not found (apt-get install -y kubernetes-client)")]


def test_obs_kubectl_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\necho 'apiVersion: v1'\necho 'kind: Namespace'\necho \"metadata: {name: from-$1}\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OBS_KUBECTL", f"{fake}")
    assert kustomize(tmp_path).objects == ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "from-kustomize"}},)


@needs_kubectl
def test_check_runs_the_schemas_the_build_and_the_coverage_of_the_folder(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "k",
        {"namespace.yaml": [VALID["Namespace"]], "probe.yaml": [broken("Probe", "spec.prober.scheme", "tcp")], "forgotten.yaml": [VALID["Service"]]},
        ["namespace.yaml", "probe.yaml"],
    )
    outcomes = [(o.name, o.status, o.detail) for o in check(folder)]
    assert outcomes == [
        ("kubernetes schemas (1.37.0, operator 0.93.1)", "failed", f"{folder}/probe.yaml: Probe/cms: spec.prober.scheme: 'tcp' is not one of ['http', 'https', 'HTTP', 'HTTPS']"),
        ("kubectl kustomize", "passed", "2 objects"),
        (
            "kustomization lists every file",
            "failed",
            f"{folder}/forgotten.yaml: Service/postgres-exporter: <root>: not in what kubectl kustomize builds (list forgotten.yaml under resources in kustomization.yaml)",
        ),
    ]
