"""JSON Schemas for the JSON (and YAML) the pipeline renderers write, validated with jsonschema.

The schemas are data files next to this module (``<name>.schema.json``). They pin the parts of each
format that Elasticsearch, Kibana and Jaeger would reject or silently ignore, so a wrong key fails
``obs check`` here rather than at ``PUT`` time on a cluster.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCHEMA_DIR = Path(__file__).parent


def names() -> tuple[str, ...]:
    return tuple(sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")))


@cache
def load(name: str) -> dict[str, Any]:
    path = SCHEMA_DIR / f"{name}.schema.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def _registry() -> Any:
    """Every schema under its file name, so ``{"$ref": "<name>.schema.json"}`` resolves offline."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resources(
        (f"{n}.schema.json", Resource.from_contents(load(n), default_specification=DRAFT202012)) for n in names()
    )


def validate(name: str, data: Any) -> list[str]:
    """Every schema violation of ``data``, as ``<json path>: <message>``; empty when valid."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(load(name))
    validator = validator_cls(load(name), registry=_registry())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


#: libyaml's safe loader where PyYAML was built with it: the same data, several times faster on the
#: large files a big platform's checks read back (the pure-Python loader otherwise).
FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """YAML that obs wrote (safe loading, libyaml when available)."""
    return yaml.load(text, Loader=FAST_LOADER)


def read_data(path: Path) -> Any:
    """A written artifact as data: JSON, YAML, or NDJSON (a list of objects)."""
    text = path.read_text()
    if path.suffix == ".ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix in (".yml", ".yaml"):
        return load_yaml(text)
    return json.loads(text)


def validate_file(name: str, path: Path) -> list[str]:
    try:
        data = read_data(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [f"{path}: cannot read: {exc}"]
    return validate(name, data)


__all__ = ["FAST_LOADER", "SCHEMA_DIR", "load", "load_yaml", "names", "read_data", "validate", "validate_file"]
