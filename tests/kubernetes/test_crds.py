"""The Prometheus Operator CRD schemas kept as data, and how they are read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from obs.kube import crds
from obs.kube.schemas import python_regex, structural

KEPT = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "Probe"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
    ("monitoring.coreos.com/v1", "Prometheus"),
    ("monitoring.coreos.com/v1", "Alertmanager"),
}

TINY_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations: {operator.prometheus.io/version: 0.93.1}
  name: things.example.org
spec:
  group: example.org
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: A thing.
        type: object
        properties:
          spec:
            description: What it is.
            type: object
            properties:
              description: {description: a field called description, type: string}
              op: {enum: ['!=', =, =~], type: string}
"""


def test_the_seven_kinds_of_one_operator_release_are_kept() -> None:
    assert set(crds.index()) == KEPT
    assert crds.operator_version() == "0.93.1"
    assert (crds.CRD_DIR / "ORIGIN.md").is_file()


def test_extract_drops_description_texts_but_not_a_field_named_description(tmp_path: Path) -> None:
    docs = crds.extract(crds.read_crd(TINY_CRD))
    assert docs == [
        {
            "apiVersion": "example.org/v1",
            "kind": "Thing",
            "plural": "things",
            "scope": "Namespaced",
            "served": True,
            "storage": True,
            "deprecated": False,
            "operatorVersion": "0.93.1",
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "properties": {"description": {"type": "string"}, "op": {"enum": ["!=", "=", "=~"], "type": "string"}}}
                },
            },
        }
    ]
    (written,) = crds.write(docs, tmp_path)
    assert written.name == "thing-v1.json"
    assert json.loads(written.read_text()) == docs[0]


def test_a_kept_schema_keeps_fields_named_description() -> None:
    schema = crds.load("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
    assert schema is not None
    pagerduty = schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["receivers"]["items"]["properties"]["pagerdutyConfigs"]
    assert pagerduty["items"]["properties"]["description"] == {"minLength": 1, "type": "string"}


def _patterns(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                found.add(value)
            found |= _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _patterns(value)
    return found


@pytest.mark.parametrize(("api_version", "kind"), sorted(KEPT))
def test_every_pattern_of_every_kept_schema_compiles_in_python(api_version: str, kind: str) -> None:
    doc = crds.load(api_version, kind)
    assert doc is not None
    for pattern in _patterns(structural(doc["openAPIV3Schema"])):
        re.compile(pattern)


@pytest.mark.parametrize(
    ("go", "python", "matches", "misses"),
    [
        ("^(?i)(abort|warn)?$", "^(?i:(abort|warn)?$)", ["", "Abort", "WARN"], ["skip"]),
        # RE2's flag holds to the end of its group only: the second day is case-sensitive.
        ("^((?i)sun|mon)day(?:((:(sun|mon)day)$)|$)", "^((?i:sun|mon))day(?:((:(sun|mon)day)$)|$)", ["Sunday", "MONday:monday"], ["monday:Monday"]),
        ("(?i)abc", "(?i)abc", ["ABC"], ["abd"]),
        ("^[(?i)]$", "^[(?i)]$", ["?"], ["x"]),
    ],
)
def test_go_case_flags_become_python_groups(go: str, python: str, matches: list[str], misses: list[str]) -> None:
    assert python_regex(go) == python
    assert [bool(re.search(python, s)) for s in matches + misses] == [True] * len(matches) + [False] * len(misses)


def test_structural_refuses_unknown_fields_except_where_the_crd_keeps_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "open": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    out = structural(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["closed"]["additionalProperties"] is False
    assert "additionalProperties" not in out["properties"]["open"]
    assert out["properties"]["map"]["additionalProperties"] == {"type": "string"}
