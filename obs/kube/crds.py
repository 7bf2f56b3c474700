"""The Prometheus Operator's CRD schemas, kept as data in ``obs/schemas/kubernetes/``.

One JSON file per kind and version (``servicemonitor-v1.json``) holds the version's
``openAPIV3Schema`` as the CRD publishes it, minus the ``description`` texts (four fifths of the
bytes, and nothing a validator reads), plus what the CRD says around it: group, plural, scope,
whether the version is served. ``python -m obs.kube.crds CRD.yaml...`` regenerates the files
from the operator's ``example/prometheus-operator-crd/`` folder; ORIGIN.md says which release.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

import obs.schemas

CRD_DIR = Path(obs.schemas.__file__).parent / "kubernetes"
OPERATOR_GROUP = "monitoring.coreos.com"

# Keywords whose value maps names to schemas: a key named "description" in there is a field.
_NAMED_SCHEMAS = ("properties", "patternProperties", "definitions")


class _CRDLoader(yaml.SafeLoader):
    """PyYAML reads a plain ``=`` scalar (an enum value in AlertmanagerConfig matchers) as the
    obsolete ``!!value`` tag and refuses it; here it is the string it is."""


_CRDLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def read_crd(text: str) -> dict[str, Any]:
    """A CustomResourceDefinition from its YAML text."""
    crd: dict[str, Any] = yaml.load(text, Loader=_CRDLoader)
    return crd


def compact(schema: Any) -> Any:
    """``schema`` without its ``description`` keywords, everything else unchanged."""
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description" and isinstance(value, str):
            continue
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: compact(sub) for name, sub in value.items()}
        else:
            out[key] = compact(value)
    return out


def file_name(kind: str, version: str) -> str:
    return f"{kind.lower()}-{version}.json"


def extract(crd: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One document per version of a CustomResourceDefinition: its schema and where it applies."""
    spec = crd["spec"]
    docs = []
    for version in spec["versions"]:
        docs.append(
            {
                "apiVersion": f"{spec['group']}/{version['name']}",
                "kind": spec["names"]["kind"],
                "plural": spec["names"]["plural"],
                "scope": spec["scope"],
                "served": bool(version.get("served", False)),
                "storage": bool(version.get("storage", False)),
                "deprecated": bool(version.get("deprecated", False)),
                "operatorVersion": crd["metadata"].get("annotations", {}).get("operator.prometheus.io/version", ""),
                "openAPIV3Schema": compact(version["schema"]["openAPIV3Schema"]),
            }
        )
    return docs


def write(docs: Sequence[Mapping[str, Any]], out: Path = CRD_DIR) -> list[Path]:
    """Compact, key-sorted JSON: small on disk, and a version bump diffs by key."""
    written = []
    for doc in docs:
        path = out / file_name(doc["kind"], doc["apiVersion"].rsplit("/", 1)[1])
        path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
        written.append(path)
    return written


@cache
def index() -> dict[tuple[str, str], Path]:
    """(apiVersion, kind) of every served CRD version kept in the repository, and its file."""
    found = {}
    for path in sorted(CRD_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        if doc["served"]:
            found[(doc["apiVersion"], doc["kind"])] = path
    return found


@cache
def load(api_version: str, kind: str) -> dict[str, Any] | None:
    """The stored document of a served CRD version, or None when the kind is not one of them."""
    path = index().get((api_version, kind))
    if path is None:
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def operator_version() -> str:
    """The Prometheus Operator release the stored schemas come from (one release for all)."""
    versions = {json.loads(p.read_text())["operatorVersion"] for p in index().values()}
    return ", ".join(sorted(versions))


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m obs.kube.crds monitoring.coreos.com_<plural>.yaml...", file=sys.stderr)
        return 2
    for arg in argv:
        crd = yaml.load(Path(arg).read_text(), Loader=_CRDLoader)
        for path in write(extract(crd)):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["CRD_DIR", "OPERATOR_GROUP", "compact", "extract", "file_name", "index", "load", "operator_version", "read_crd", "write"]
