"""The schemas a Kubernetes object is checked against, and their errors as ``(path, message)``.

Built-in kinds: the strict JSON Schemas of one Kubernetes release that the PyPI package
``kubernetes-validate`` carries (``additionalProperties: false`` everywhere, so an unknown field is
an error, as ``kubectl apply`` with server-side strict field validation makes it). Prometheus
Operator kinds: the CRD schemas in ``obs/schemas/kubernetes/`` read with the API server's
structural-schema rules, and their ``metadata`` against Kubernetes' own ObjectMeta.

The package's schema folder layout is read in this module only. When a release of the package
lays it out differently, validation goes through its public ``validate()``, which reports the
first problem of an object instead of all of them.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.resources.abc import Traversable
from typing import Any

import jsonschema
from referencing import Registry, Resource

from obs.kube import crds

#: The Kubernetes release whose schemas built-in kinds are checked against.
KUBERNETES_VERSION = "1.37.0"

Problem = tuple[str, str]  # (JSON path inside the object, message)

_OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# The Prometheus Operator's pattern for Go/Prometheus durations.
_DURATION_PATTERN = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"


def format_path(parts: Iterable[str | int]) -> str:
    """``spec.containers[0].ports[0].name``, and ``data[obs-svc.json]`` for keys that are not identifiers."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part}]"
    return out or "<root>"


def _types(schema: Any) -> list[str] | None:
    """The types a ``type``-only schema allows, without ``null`` (absent, to the API server)."""
    if not isinstance(schema, dict) or set(schema) - {"type"}:
        return None
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    return [t for t in names if t != "null"]


def problems_of(errors: Iterable[jsonschema.ValidationError], prefix: tuple[str | int, ...] = ()) -> Iterator[Problem]:
    """One problem per unknown field and per missing field; jsonschema's message for the rest."""
    for error in errors:
        path = (*prefix, *error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
            for key in error.instance:
                if key not in known and not any(p.search(key) for p in patterns):
                    yield format_path((*path, key)), "unknown field"
        elif error.validator == "required" and isinstance(error.instance, dict):
            for key in error.validator_value:
                if key not in error.instance:
                    yield format_path((*path, key)), "required field is missing"
        elif error.validator == "type":
            allowed = _types({"type": error.validator_value}) or []
            yield format_path(path), f"{error.instance!r} is not of type {' or '.join(allowed)}"
        elif error.validator == "pattern" and error.validator_value == _DURATION_PATTERN:
            yield format_path(path), f"{error.instance!r} is not a duration such as 30s, 5m or 1h30m"
        elif error.validator in ("oneOf", "anyOf") and all(_types(s) for s in error.validator_value):
            allowed = [t for s in error.validator_value for t in _types(s) or []]
            yield format_path(path), f"{error.instance!r} is not of type {' or '.join(allowed)}"
        else:
            yield format_path(path), error.message


# --- built-in kinds: kubernetes-validate's strict schemas ---------------------------------------


def schema_dir(version: str = KUBERNETES_VERSION) -> Traversable | None:
    """kubernetes-validate's folder of strict schemas for ``version``, when laid out as expected."""
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    return folder if folder.is_dir() and (folder / "_definitions.json").is_file() else None


def _schema_file(api_version: str, kind: str) -> str:
    # The package's naming: rbac.authorization.k8s.io/v1 Role -> role-rbac-v1.json, v1 Service -> service-v1.json
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@cache
def _registry(version: str) -> Registry | None:
    folder = schema_dir(version)
    if folder is None:
        return None
    definitions = json.loads((folder / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@cache
def _kubernetes_validator(api_version: str, kind: str, version: str) -> Any:
    folder, registry = schema_dir(version), _registry(version)
    if folder is None or registry is None:
        return None
    path = folder / _schema_file(api_version, kind)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    # The file name drops the group's domain: check the full apiVersion and kind as well.
    if api_version not in schema["properties"]["apiVersion"].get("enum", [api_version]):
        return None
    if kind not in schema["properties"]["kind"].get("enum", [kind]):
        return None
    return jsonschema.Draft202012Validator(schema, registry=registry)


def kubernetes_problems(obj: Mapping[str, Any], version: str = KUBERNETES_VERSION) -> list[Problem] | None:
    """Problems of a built-in kind against Kubernetes ``version``; None when it is not a built-in kind."""
    if schema_dir(version) is None:
        return _public_api_problems(obj, version)
    validator = _kubernetes_validator(str(obj.get("apiVersion")), str(obj.get("kind")), version)
    if validator is None:
        return None
    return list(problems_of(validator.iter_errors(obj)))


def _public_api_problems(obj: Mapping[str, Any], version: str) -> list[Problem] | None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(dict(obj), version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError as error:
        return list(problems_of([error]))
    return []


def object_meta_problems(metadata: Any, version: str = KUBERNETES_VERSION) -> list[Problem]:
    """``metadata`` of a custom resource against ObjectMeta, which its CRD leaves open."""
    registry = _registry(version)
    if registry is None:
        return []
    validator = jsonschema.Draft202012Validator({"$ref": _OBJECT_META}, registry=registry)
    return list(problems_of(validator.iter_errors(metadata), ("metadata",)))


def kinds_named(kind: str, version: str = KUBERNETES_VERSION) -> list[str]:
    """The apiVersions Kubernetes ``version`` serves ``kind`` under (for a helpful error)."""
    folder = schema_dir(version)
    if folder is None:
        return []
    found = []
    prefix = f"{kind.lower()}-"
    for path in folder.iterdir():
        if path.name.startswith(prefix) and path.name.endswith(".json"):
            schema = json.loads(path.read_text())
            if kind in schema.get("properties", {}).get("kind", {}).get("enum", []):
                found.extend(schema["properties"]["apiVersion"].get("enum", []))
    return sorted(found)


# --- Prometheus Operator kinds: the CRD schemas kept in the repository ---------------------------


def _scan(pattern: str, start: int) -> Iterator[tuple[int, str]]:
    """(index, character) of the pattern's syntax from ``start``: escapes and classes skipped."""
    i, in_class = start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            yield i, char
        i += 1


def _group_end(pattern: str, start: int) -> int:
    """Where the group that is open at ``start`` closes (the pattern's end at top level)."""
    depth = 0
    for i, char in _scan(pattern, start):
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return i
            depth -= 1
    return len(pattern)


def _case_flag(pattern: str) -> int:
    """Where a bare ``(?i)`` stands after the pattern's first character, or -1."""
    return next((i for i, char in _scan(pattern, 1) if char == "(" and pattern.startswith("(?i)", i)), -1)


def python_regex(pattern: str) -> str:
    """A Go (RE2) pattern for Python's ``re``: RE2's ``(?i)`` holds to the end of its group, which
    Python writes ``(?i:...)`` (it allows a bare ``(?i)`` only at the very start)."""
    while (at := _case_flag(pattern)) > 0:
        end = _group_end(pattern, at + 4)
        pattern = f"{pattern[:at]}(?i:{pattern[at + 4 : end]}){pattern[end:]}"
    return pattern


def structural(schema: Any) -> Any:
    """A CRD schema as a JSON Schema that rejects what the API server rejects: unknown fields
    (unless ``x-kubernetes-preserve-unknown-fields``), with its Go patterns in Python's syntax."""
    if isinstance(schema, list):
        return [structural(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: ({n: structural(s) for n, s in v.items()} if k == "properties" else structural(v)) for k, v in schema.items()}
    pattern = out.get("pattern")
    if isinstance(pattern, str):
        out["pattern"] = python_regex(pattern)
    if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _list_type(validator: Any, list_type: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, list):
        return
    if list_type == "set":
        seen: list[Any] = []
        for item in instance:
            if item in seen:
                yield jsonschema.ValidationError(f"duplicate item {item!r} in a list of unique items")
            seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen_keys: set[tuple[str, ...]] = set()
        for item in instance:
            if isinstance(item, dict):
                key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
                if key in seen_keys:
                    named = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
                    yield jsonschema.ValidationError(f"duplicate item with {named}: the list is keyed by {', '.join(keys)}")
                seen_keys.add(key)


def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("int32")(_int32)
_FORMATS.checks("int64")(_int64)


# OpenAPI v3.0 schemas are JSON Schema draft 4 with extensions.
_CRDValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"x-kubernetes-list-type": _list_type})


@cache
def _crd_validator(api_version: str, kind: str) -> Any:
    doc = crds.load(api_version, kind)
    if doc is None:
        return None
    schema = structural(doc["openAPIV3Schema"])
    if kind == "AlertmanagerConfig":
        # The CRD leaves nested routes open (a schema cannot recurse); the operator decodes them
        # as the same Route type, so they are checked against the top route's schema.
        route = schema["properties"]["spec"]["properties"]["route"]
        route["properties"]["routes"]["items"] = {"$ref": "#/properties/spec/properties/route"}
    return _CRDValidator(schema, format_checker=_FORMATS)


def crd_problems(obj: Mapping[str, Any], version: str = KUBERNETES_VERSION) -> list[Problem] | None:
    """Problems of a Prometheus Operator kind; None when it is not one of the stored CRDs."""
    validator = _crd_validator(str(obj.get("apiVersion")), str(obj.get("kind")))
    if validator is None:
        return None
    problems = list(problems_of(validator.iter_errors(obj)))
    if isinstance(obj.get("metadata"), dict):
        problems.extend(object_meta_problems(obj["metadata"], version))
    return problems


def crd_kinds_named(kind: str) -> list[str]:
    return sorted(api for api, k in crds.index() if k == kind)


__all__ = [
    "KUBERNETES_VERSION",
    "Problem",
    "crd_kinds_named",
    "crd_problems",
    "format_path",
    "kinds_named",
    "kubernetes_problems",
    "object_meta_problems",
    "problems_of",
    "python_regex",
    "schema_dir",
    "structural",
]
