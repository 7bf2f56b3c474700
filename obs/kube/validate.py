"""Validate Kubernetes objects the way a cluster would, offline, and build a folder with kustomize.

Every problem is one line, ``<file>: <Kind>/<name>: <json path>: <message>``:

    kubernetes/backend.yaml: Deployment/backend: spec.template.spec.containers[0].ports[0].containerPort: '80' is not of type integer
    kubernetes/rules.yaml: PrometheusRule/backend: spec.groups[0].rules[0].alert: unknown field

Built-in kinds are checked against Kubernetes :data:`KUBERNETES_VERSION` (the schemas of the PyPI
package ``kubernetes-validate``), Prometheus Operator kinds against its CRD schemas kept in
``obs/schemas/kubernetes/``; names, labels, port names and sizes against the API server's rules. A
kind found in neither is a problem too: nothing obs writes may go unchecked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Outcome
from obs.kube import crds, meta
from obs.kube.schemas import (
    KUBERNETES_VERSION,
    Problem,
    crd_kinds_named,
    crd_problems,
    kinds_named,
    kubernetes_problems,
)
from obs.schemas import FAST_LOADER

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUBECTL_ENV = "OBS_KUBECTL"
KUBECTL_MISSING = "skipped: kubectl not found (apt-get install -y kubernetes-client)"
_OBJECT_SUFFIXES = (".yaml", ".yml", ".json")


def describe(obj: Any) -> str:
    """``Kind/name`` as a problem line names an object; ``?`` for what is missing."""
    if not isinstance(obj, Mapping):
        return "?/?"
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{obj.get('kind') or '?'}/{name or '?'}"


def _kind_problems(obj: Mapping[str, Any], version: str) -> list[Problem]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        return [("apiVersion", "required field is missing")]
    if not isinstance(kind, str) or not kind:
        return [("kind", "required field is missing")]
    schema_problems = crd_problems(obj, version) if api_version.startswith(crds.OPERATOR_GROUP + "/") else None
    if schema_problems is None:
        schema_problems = kubernetes_problems(obj, version)
    if schema_problems is not None:
        return schema_problems
    served = crd_kinds_named(kind) or kinds_named(kind, version)
    if served:
        return [("apiVersion", f"{kind} is served as {' or '.join(served)}, not {api_version}")]
    return [
        (
            "kind",
            f"unknown kind {kind} of {api_version}: not in Kubernetes {version} nor in the Prometheus Operator "
            f"{crds.operator_version()} CRDs in obs/schemas/kubernetes, so nothing can check it",
        )
    ]


def validate_object(obj: Any, file: str, *, kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Every problem of one object as ``<file>: <Kind>/<name>: <json path>: <message>``; empty when valid."""
    if not isinstance(obj, Mapping):
        return [f"{file}: ?/?: <root>: not a Kubernetes object (a mapping with apiVersion, kind and metadata), got {type(obj).__name__}"]
    problems = _kind_problems(obj, kubernetes_version)
    problems.extend(meta.object_problems(obj))
    unique = dict.fromkeys(problems)  # schema and name rules may both see a missing name
    return [f"{file}: {describe(obj)}: {path}: {message}" for path, message in unique]


def validate_objects(objects: Iterable[Any], file: str, *, kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Every problem of the objects of one file, in their order."""
    return [line for obj in objects for line in validate_object(obj, file, kubernetes_version=kubernetes_version)]


def read_objects(path: Path) -> list[Any]:
    """The objects of a YAML (multi-document) or JSON file; empty documents are skipped."""
    text = path.read_text()
    if path.suffix == ".json":
        docs = [json.loads(text)]
    else:
        try:
            docs = list(yaml.load_all(text, Loader=FAST_LOADER))
        except yaml.YAMLError:
            docs = list(yaml.safe_load_all(text))  # raises again, with the pure parser's clearer message
    return [doc for doc in docs if doc is not None]


def read_error(exc: Exception) -> str:
    """A read error in one line: ``line 1, column 7: expected ',' or ']', but got '<stream end>'``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(exc).split())


def object_files(folder: Path) -> list[Path]:
    """The files of ``folder`` holding objects, as ``kubectl apply -f folder`` reads them: its own
    ``*.yaml``, ``*.yml`` and ``*.json`` files, not those of subfolders (no ``-R``); the
    kustomization itself is not one."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _OBJECT_SUFFIXES and p.name not in KUSTOMIZATION_FILES)


def validate_folder(folder: Path, *, kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Every problem of every object file under ``folder``."""
    problems = []
    for path in object_files(folder):
        try:
            objects = read_objects(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            problems.append(f"{path}: ?/?: <root>: cannot read: {read_error(exc)}")
            continue
        problems.extend(validate_objects(objects, str(path), kubernetes_version=kubernetes_version))
    return problems


# --- kubectl kustomize ---------------------------------------------------------------------------


def find_kubectl() -> list[str] | None:
    """The command that runs kubectl: ``$OBS_KUBECTL`` (shell words), else ``kubectl`` on PATH."""
    override = os.environ.get(KUBECTL_ENV)
    if override:
        return shlex.split(override)
    found = shutil.which("kubectl")
    return [found] if found else None


@dataclass(frozen=True, slots=True)
class KustomizeResult:
    """What ``kubectl kustomize`` built: the objects, or why not (``problem``), or why it did not run (``skipped``)."""

    objects: tuple[dict[str, Any], ...] = ()
    problem: str = ""
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and not self.skipped


def kubectl_error(output: str) -> str:
    """kubectl's error without its log prefix: ``E1206 ... run.go:72] "command failed" err="<this>"``."""
    match = re.search(r'err="((?:[^"\\]|\\.)*)"', output)
    text = re.sub(r"\\(.)", r"\1", match.group(1)) if match else output
    return " ".join(text.split())


def kustomize(folder: Path, *, timeout: float = 60) -> KustomizeResult:
    """``kubectl kustomize folder``: needs no cluster; a hang or an error becomes ``problem``."""
    kubectl = find_kubectl()
    if kubectl is None:
        return KustomizeResult(skipped=KUBECTL_MISSING)
    command = [*kubectl, "kustomize", str(folder)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return KustomizeResult(problem=f"kubectl kustomize {folder}: timed out after {timeout:g} s")
    except OSError as exc:
        return KustomizeResult(problem=f"kubectl kustomize {folder}: cannot run {command[0]}: {exc}")
    if proc.returncode != 0:
        return KustomizeResult(problem=f"kubectl kustomize {folder}: {kubectl_error(proc.stderr or proc.stdout) or f'exit code {proc.returncode}'}")
    try:
        docs = [doc for doc in yaml.load_all(proc.stdout, Loader=FAST_LOADER) if doc is not None]
    except yaml.YAMLError as exc:
        return KustomizeResult(problem=f"kubectl kustomize {folder}: output is not YAML: {' '.join(str(exc).split())}")
    return KustomizeResult(objects=tuple(docs))


def _identity(obj: Any) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    metadata = metadata if isinstance(metadata, Mapping) else {}
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    api = obj.get("apiVersion") if isinstance(obj, Mapping) else None
    return (str(api), str(kind), str(metadata.get("namespace", "")), str(metadata.get("name")))


def missing_from_build(folder: Path, built: Iterable[Any]) -> list[str]:
    """Objects of the folder's files that the kustomization leaves out (``kubectl apply -k`` would skip them)."""
    have = {_identity(obj) for obj in built}
    problems = []
    for path in object_files(folder):
        try:
            objects = read_objects(path)
        except (OSError, ValueError, yaml.YAMLError):
            continue  # validate_folder reports it
        for obj in objects:
            if _identity(obj) not in have:
                relative = path.relative_to(folder)
                problems.append(f"{path}: {describe(obj)}: <root>: not in what kubectl kustomize builds (list {relative} under resources in kustomization.yaml)")
    return problems


def check(folder: Path, *, kubernetes_version: str = KUBERNETES_VERSION) -> Iterator[Outcome]:
    """The checks ``obs check`` runs on a Kubernetes folder: schemas, then the kustomize build."""
    problems = validate_folder(folder, kubernetes_version=kubernetes_version)
    yield Outcome(f"kubernetes schemas ({kubernetes_version}, operator {crds.operator_version()})", "failed" if problems else "passed", "\n".join(problems))
    result = kustomize(folder)
    if result.skipped:
        yield Outcome("kubectl kustomize", "skipped", result.skipped)
        return
    if result.problem:
        yield Outcome("kubectl kustomize", "failed", result.problem)
        return
    yield Outcome("kubectl kustomize", "passed", f"{len(result.objects)} objects")
    left_out = missing_from_build(folder, result.objects)
    yield Outcome("kustomization lists every file", "failed" if left_out else "passed", "\n".join(left_out))


__all__ = [
    "KUBECTL_ENV",
    "KUBECTL_MISSING",
    "KUBERNETES_VERSION",
    "KustomizeResult",
    "check",
    "describe",
    "find_kubectl",
    "kubectl_error",
    "kustomize",
    "missing_from_build",
    "object_files",
    "read_error",
    "read_objects",
    "validate_folder",
    "validate_object",
    "validate_objects",
]
