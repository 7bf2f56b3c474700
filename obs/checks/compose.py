"""Checks of the Compose file: schema, mounts, pinned images, targets, secrets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Outcome
from obs.renderers import (
    alertmanager,
    prometheus,
)
from obs.renderers.compose import (
    COMPOSE_PATH,
    HOST_PATHS,
    SCHEMA,
    credential_files,
    env_file_secrets,
    unresolved_targets,
)
from obs.schemas import read_data, validate
from obs.writer import read_manifest


def host_sources(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(service, host path) of every bind mount and env file."""
    out: list[tuple[str, str]] = []
    for name, service in (doc.get("services") or {}).items():
        for vol in service.get("volumes") or []:
            if isinstance(vol, dict):
                if vol.get("type") == "bind":
                    out.append((name, str(vol.get("source"))))
            elif isinstance(vol, str) and vol.startswith((".", "/", "~", "$")):
                out.append((name, vol.split(":", 1)[0]))
        env_files = service.get("env_file") or []
        out.extend((name, str(f)) for f in ([env_files] if isinstance(env_files, str) else env_files))
    return out


def missing_mounts(doc: Mapping[str, Any], compose_dir: Path, env_dir: Path) -> list[str]:
    problems = []
    root = env_dir.resolve()
    for service, source in host_sources(doc):
        if source in HOST_PATHS:
            continue
        if source.startswith(("/", "~", "$")):
            problems.append(
                f"{service}: mounts {source}, outside the build (allowed: {', '.join(sorted(HOST_PATHS))})"
            )
            continue
        path = (compose_dir / source).resolve()
        if not path.is_relative_to(root):
            problems.append(f"{service}: mounts {source}, outside {env_dir}")
        elif not path.exists():
            problems.append(
                f"{service}: mounts {source}, which the build did not write ({path.relative_to(root)})"
            )
    return problems


def unpinned_images(doc: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, service in (doc.get("services") or {}).items():
        image = str(service.get("image", ""))
        tag = image.rpartition("/")[2].partition(":")[2]
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image!r} is not pinned to a version")
    return problems


def missing_secrets(doc: Mapping[str, Any], compose_dir: Path, env_dir: Path) -> list[str]:
    """Credential files the mounted configs read that their service does not get as a secret."""
    services = doc.get("services") or {}
    wanted: list[tuple[str, str]] = []
    for service, rel in (("prometheus", prometheus.CONFIG_PATH), ("alertmanager", alertmanager.CONFIG_PATH)):
        try:
            wanted.extend((service, p) for p in credential_files(read_data(env_dir / rel)))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            return [f"{rel}: cannot read: {exc}"]
    for name, service in services.items():
        for env_file in service.get("env_file") or []:
            path = compose_dir / env_file
            if path.exists():
                wanted.extend((name, p) for p in env_file_secrets(path.read_text()))
    declared = doc.get("secrets") or {}
    problems = []
    for service, path in wanted:
        refs = (services.get(service) or {}).get("secrets") or []
        match = [r for r in refs if isinstance(r, dict) and r.get("target") == path]
        if not match:
            problems.append(f"{service}: reads {path}, which no secret is mounted at")
        elif match[0].get("source") not in declared:
            problems.append(f"{service}: secret {match[0].get('source')!r} is not declared under secrets")
    return problems


def _outcome(name: str, problems: list[str]) -> Outcome:
    return Outcome(name, "failed" if problems else "passed", "\n".join(problems))


def built_for(env_dir: Path) -> bool:
    """Whether the build wrote a compose file for this environment: only Compose environments get
    one, so the others have nothing to check (the manifest says; without one, the file does)."""
    manifest = read_manifest(env_dir.parent)
    if manifest is None:
        return (env_dir / COMPOSE_PATH).exists()
    return f"{env_dir.name}/{COMPOSE_PATH}" in manifest["files"]


def check(env_dir: Path) -> Iterator[Outcome]:
    path = env_dir / COMPOSE_PATH
    if not built_for(env_dir):
        return
    try:
        doc = read_data(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        yield Outcome(f"schema {SCHEMA}", "failed", f"{path}: cannot read: {exc}")
        return
    yield _outcome(f"schema {SCHEMA}", validate(SCHEMA, doc))
    if not isinstance(doc, dict):
        return
    yield _outcome("compose mounts exist in the build", missing_mounts(doc, path.parent, env_dir))
    yield _outcome("compose images are pinned", unpinned_images(doc))
    try:
        prom_config = read_data(env_dir / prometheus.CONFIG_PATH)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        yield Outcome("prometheus scrape targets are compose services", "failed", str(exc))
    else:
        yield _outcome("prometheus scrape targets are compose services", unresolved_targets(doc, prom_config))
    yield _outcome("credential files are mounted secrets", missing_secrets(doc, path.parent, env_dir))


__all__ = ["check", "missing_mounts", "missing_secrets", "unpinned_images"]
