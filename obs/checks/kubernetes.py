"""Checks of an environment's Kubernetes folder.

- ``verify`` (at build time, in process): every object against the Kubernetes schemas of
  :data:`obs.kube.validate.KUBERNETES_VERSION` and the Prometheus Operator's CRD schemas, and the
  API server's name, label and size rules;
- ``check`` (``obs check``, on the written files): the same, then ``kubectl kustomize`` builds the
  folder and its kustomization lists every file; the PrometheusRule objects carry exactly the
  groups of the rule files promtool checks and tests (``prometheus/rules/``), and, with plain
  Prometheus, the ConfigMaps hold the written ``prometheus.yml`` and rule files.

Environments that do not run on Kubernetes have no folder, and nothing to check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Artifact, Outcome
from obs.kube import validate
from obs.renderers.kubernetes import DIR, PLAIN_RULES_SUFFIX, evaluated_rule_files, object_files
from obs.renderers.prometheus import CONFIG_PATH
from obs.rules.rulefile import RULES_DIR
from obs.schemas import load_yaml
from obs.writer import read_manifest


def verify(artifacts: Sequence[Artifact]) -> list[str]:
    """Every problem of every object the group rendered, one line each."""
    return [line for a in object_files(artifacts) for line in validate.validate_object(a.content, a.path)]


def built_for(env_dir: Path) -> bool:
    """Whether the build wrote a Kubernetes folder for this environment (the manifest says)."""
    manifest = read_manifest(env_dir.parent)
    if manifest is None:
        return (env_dir / DIR).is_dir()
    prefix = f"{env_dir.name}/{DIR}/"
    return any(path.startswith(prefix) for path in manifest["files"])


def _objects(folder: Path) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for path in validate.object_files(folder):
        try:
            found.extend(obj for obj in validate.read_objects(path) if isinstance(obj, Mapping))
        except (OSError, ValueError, yaml.YAMLError):
            continue  # the schema check reports it
    return found


def _written(env_dir: Path, relative: str) -> Any:
    path = env_dir / relative
    return load_yaml(path.read_text()) if path.exists() else None


def _evaluated(env_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The written prometheus.yml, and the written rule files it loads (name -> content)."""
    config = _written(env_dir, CONFIG_PATH) or {}
    files = {f"{RULES_DIR}/{p.name}": load_yaml(p.read_text()) for p in sorted((env_dir / RULES_DIR).glob("*.yml"))}
    return config, dict(evaluated_rule_files(config, files))


def rule_problems(env_dir: Path, objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the rules a cluster gets differ from the files promtool checks and tests (those the
    environment's prometheus.yml loads)."""
    config, files = _evaluated(env_dir)
    rules = {o["metadata"]["name"]: (o.get("spec") or {}).get("groups") for o in objects if o.get("kind") == "PrometheusRule"}
    config_maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"}
    plain = {name: data for name, data in config_maps.items() if name.endswith(PLAIN_RULES_SUFFIX)}
    problems: list[str] = []
    if rules or not plain:
        held: set[str] = set()
        for name, groups in rules.items():
            match = {stem for stem, content in files.items() if (content or {}).get("groups") == groups}
            if not match:
                problems.append(f"PrometheusRule/{name}: its groups are those of no rule file prometheus.yml loads")
            held |= match
        return problems + [f"{RULES_DIR}/{stem}.yml: no PrometheusRule carries its groups" for stem in files if stem not in held]
    for name, data in plain.items():
        carried = {key.removesuffix(".yml"): load_yaml(text) for key, text in data.items()}
        problems += [f"ConfigMap/{name}: {stem}.yml is not as written in {RULES_DIR}" for stem, content in files.items() if carried.get(stem) != content]
        problems += [f"ConfigMap/{name}: {stem}.yml is no rule file prometheus.yml loads" for stem in carried if stem not in files]
    configs = [load_yaml(data["prometheus.yml"]) for data in config_maps.values() if "prometheus.yml" in data]
    if configs != [config]:
        problems.append(f"no ConfigMap holds {CONFIG_PATH} as written")
    return problems


def check(env_dir: Path) -> Iterator[Outcome]:
    if not built_for(env_dir):
        return
    folder = env_dir / DIR
    yield from validate.check(folder)
    problems = rule_problems(env_dir, _objects(folder))
    yield Outcome("the cluster gets the rules promtool tests", "failed" if problems else "passed", "\n".join(problems))


__all__ = ["built_for", "check", "rule_problems", "verify"]
