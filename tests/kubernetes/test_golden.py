"""Golden files of the built-in platform's Kubernetes folders (staging and prod).

Every file of ``build/<env>/kubernetes/`` is compared with ``tests/golden/kubernetes/<env>/``.
What an object only carries for another group (a rule file's groups, a dashboard, the
Alertmanager configuration, the exporters' settings files) is first checked to be exactly that
group's file, then shown in the golden file as ``<as written in <path>>``: the golden files show
what the kubernetes group decides, and a change of a dashboard or a rule updates that group's
golden files, not these too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu
from obs.builder import render
from obs.model import Kubernetes
from obs.renderers import kubernetes as kube
from obs.writer import dump_yaml
from tests.conftest import GOLDEN_DIR

ENVIRONMENTS = [e.name for e in edu.environments if isinstance(e.runtime, Kubernetes)]
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return dict(render(edu, ENVIRONMENTS, ["kubernetes", "rules", "alertmanager", "grafana", "exporters"], root=ROOT).files)


def _parse(path: str, data: bytes | str) -> Any:
    text = data.decode() if isinstance(data, bytes) else data
    return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)


def _sources(files: Mapping[str, bytes], env: str) -> list[tuple[str, Any]]:
    """(path, parsed content) of what the other groups wrote for ``env``."""
    prefix = f"{env}/"
    return [
        (path.removeprefix(prefix), _parse(path, data))
        for path, data in sorted(files.items())
        if path.startswith(prefix) and not path.startswith(f"{prefix}{kube.DIR}/") and path.endswith((".yml", ".yaml", ".json"))
    ]


def _pointer(value: Any, sources: list[tuple[str, Any]], parse: Callable[[Any], Any]) -> Any:
    parsed = parse(value)
    for path, content in sources:
        if parsed == content:
            return f"<as written in {path}>"
    return value


def golden_view(obj: dict[str, Any], sources: list[tuple[str, Any]]) -> dict[str, Any]:
    """``obj`` with what it carries for another group replaced by where that group wrote it."""
    view = json.loads(json.dumps(obj))
    if view.get("kind") == "PrometheusRule":
        groups = view["spec"]["groups"]
        match = [path for path, content in sources if isinstance(content, dict) and content.get("groups") == groups]
        assert match, f"PrometheusRule/{view['metadata']['name']}: its groups are no rule file's"
        view["spec"]["groups"] = f"<the groups of {match[0]}>"
    for field in ("data", "stringData"):
        for key, text in (view.get(field) or {}).items():
            view[field][key] = _pointer(text, sources, lambda t, k=key: _parse(k, t))
    return view


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_kubernetes_folder_matches_its_golden_files(files: dict[str, bytes], env: str, golden: Callable[[str, bytes | str], None]) -> None:
    prefix = f"{env}/{kube.DIR}/"
    sources = _sources(files, env)
    written = {path.removeprefix(prefix): data for path, data in files.items() if path.startswith(prefix)}
    for relative, data in sorted(written.items()):
        if relative.endswith(".yaml") and "/" not in relative:
            header, _, body = data.decode().partition("\n")
            data = f"{header}\n{dump_yaml(golden_view(yaml.safe_load(body), sources))}".encode()
        golden(f"{kube.DIR}/{env}/{relative}", data)
    kept = {p.relative_to(GOLDEN_DIR / kube.DIR / env).as_posix() for p in (GOLDEN_DIR / kube.DIR / env).rglob("*") if p.is_file()}
    assert kept == set(written), "golden files the build no longer writes, or files without a golden file"


def test_the_staging_and_production_namespaces_are_the_designs() -> None:
    runtimes = {e.name: e.runtime for e in edu.environments}
    assert isinstance(runtimes["prod"], Kubernetes) and isinstance(runtimes["staging"], Kubernetes)
    assert (runtimes["prod"].namespace, runtimes["staging"].namespace) == ("toolboxai-production", "toolboxai-staging")
    assert set(runtimes["prod"].namespace_labels) == set(runtimes["staging"].namespace_labels) == {"app", "environment"}
    assert runtimes["dev"].type == "compose"
