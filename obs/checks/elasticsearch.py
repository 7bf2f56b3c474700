"""Checks of the Elasticsearch bodies: JSON Schemas, cross-references, coverage of the contract's log fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from obs import contract
from obs.artifacts import Outcome
from obs.renderers.elasticsearch import _ES_TYPES, COMPONENT_DIR, ILM_DIR, INDEX_TEMPLATE_DIR
from obs.schemas import validate_file

SCHEMAS: Mapping[str, str] = {
    COMPONENT_DIR: "elasticsearch-component-template",
    INDEX_TEMPLATE_DIR: "elasticsearch-index-template",
    ILM_DIR: "elasticsearch-ilm-policy",
}


def check(env_dir: Path) -> Iterable[Outcome]:
    """JSON Schema of every written body, and the cross-references between them."""
    for folder, schema in SCHEMAS.items():
        files = sorted((env_dir / folder).glob("*.json"))
        if not files:
            yield Outcome(f"elasticsearch {folder}", "failed", f"no files in {env_dir / folder}")
        for path in files:
            problems = validate_file(schema, path)
            yield Outcome(
                f"schema {schema}: {path.name}", "failed" if problems else "passed", "\n".join(problems)
            )
    yield from _check_references(env_dir)
    yield _check_contract_coverage(env_dir)


def _check_contract_coverage(env_dir: Path) -> Outcome:
    """The written mapping types every contract field as the contract says (what the services emit)."""
    import json

    name = "elasticsearch mapping covers every contract log field"
    problems: list[str] = []
    for path in sorted((env_dir / COMPONENT_DIR).glob("*.json")):
        try:
            mapping = json.loads(path.read_text())["template"]["mappings"]
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        for f in contract.LOG_FIELDS:
            node: Any = mapping
            for part in [f.name] if f.name.startswith("@") else f.name.split("."):
                node = node.get("properties", {}).get(part) if isinstance(node, dict) else None
            actual = node.get("type") if isinstance(node, dict) else None
            if actual != _ES_TYPES[f.type]["type"]:
                problems.append(f"{path.name}: {f.name} is mapped as {actual!r}, the contract says {f.type}")
    return Outcome(name, "failed" if problems else "passed", "\n".join(problems))


def _check_references(env_dir: Path) -> Iterable[Outcome]:
    import json

    components = {p.stem for p in (env_dir / COMPONENT_DIR).glob("*.json")}
    policies = {p.stem for p in (env_dir / ILM_DIR).glob("*.json")}
    problems: list[str] = []
    for path in sorted((env_dir / INDEX_TEMPLATE_DIR).glob("*.json")):
        body = json.loads(path.read_text())
        for name in body.get("composed_of", []):
            if name not in components:
                problems.append(f"{path.name}: composed_of {name!r}, which is not rendered")
        policy = body.get("template", {}).get("settings", {}).get("index.lifecycle.name")
        if policy not in policies:
            problems.append(f"{path.name}: lifecycle policy {policy!r} is not rendered")
    yield Outcome(
        "elasticsearch templates reference rendered components and policies",
        "failed" if problems else "passed",
        "\n".join(problems),
    )


__all__ = ["SCHEMAS", "check"]
