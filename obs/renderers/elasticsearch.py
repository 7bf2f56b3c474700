"""Elasticsearch: one data stream per log class, an ECS mapping of the contract's fields, and an
index lifecycle policy whose retention comes from the model (per class and environment).

Files are the bodies of ``PUT _component_template/<name>``, ``PUT _index_template/<name>`` and
``PUT _ilm/policy/<name>``, named after the file (``elasticsearch/<kind>/<name>.json``). Apply the
component template first, then the policies, then the index templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.formats.conventions import data_stream
from obs.model import Environment, Platform

COMPONENT_DIR = "elasticsearch/component_templates"
INDEX_TEMPLATE_DIR = "elasticsearch/index_templates"
ILM_DIR = "elasticsearch/ilm"
#: Above the built-in ``logs-*-*`` template (priority 100) that would otherwise claim our streams.
TEMPLATE_PRIORITY = 200

_ES_TYPES: Mapping[str, dict[str, Any]] = {
    "date": {"type": "date"},
    # ignore_above keeps a pathological value from failing the whole document.
    "keyword": {"type": "keyword", "ignore_above": 1024},
    "text": {"type": "text"},
    "long": {"type": "long"},
    "integer": {"type": "integer"},
    "float": {"type": "float"},
    "ip": {"type": "ip"},
}


def component_name(platform: Platform) -> str:
    return f"logs-{platform.name}@mappings"


def policy_name(platform: Platform, env: Environment, log_class: str) -> str:
    """The ILM policy and index template of a log class in an environment: named like its data
    stream, so that environments sharing one cluster (the model has one ``elasticsearch_url``)
    each keep their own retention instead of the last one applied."""
    return data_stream(platform, log_class, env)


def _insert(properties: dict[str, Any], dotted: str, mapping: Mapping[str, Any]) -> None:
    head, _, rest = dotted.partition(".")
    if dotted.startswith("@") or not rest:
        properties[dotted] = dict(mapping)
        return
    node = properties.setdefault(head, {"properties": {}})
    _insert(node["properties"], rest, mapping)


def mappings(platform: Platform) -> dict[str, Any]:
    """ECS-compatible mapping of every contract field, the services' extra fields, and the
    ``data_stream.*`` routing fields."""
    properties: dict[str, Any] = {}
    for f in contract.LOG_FIELDS:
        _insert(properties, f.name, _ES_TYPES[f.type])
    # A data stream's @timestamp may not ignore malformed values: Elasticsearch >= 8.11 turns the
    # index-wide setting off for it silently, older 8.x refuse to create the stream. Said here.
    properties["@timestamp"] = {**properties["@timestamp"], "ignore_malformed": False}
    extras = sorted({extra for s in platform.services for extra in s.log_fields})
    for extra in extras:
        _insert(properties, extra, _ES_TYPES["keyword"])
    for part in ("type", "dataset", "namespace"):
        _insert(properties, f"data_stream.{part}", {"type": "constant_keyword"})
    return {
        # Unknown fields stay in _source but are not indexed: a new field in one service can then
        # never turn into a mapping conflict that rejects (loses) another service's lines.
        "dynamic": False,
        "properties": properties,
    }


def component_template(platform: Platform) -> dict[str, Any]:
    return {
        "_meta": {"managed_by": "obs", "description": f"ECS mapping of the obs log contract (ECS {contract.ECS_VERSION})."},
        "template": {
            "settings": {
                # A malformed number or date is stored unindexed instead of rejecting the line.
                "index.mapping.ignore_malformed": True,
            },
            "mappings": mappings(platform),
        },
    }


def index_template(platform: Platform, env: Environment, log_class: str) -> dict[str, Any]:
    return {
        "_meta": {"managed_by": "obs", "log_class": log_class, "environment": env.name},
        # The environment's own stream only: templates of one priority must not overlap.
        "index_patterns": [data_stream(platform, log_class, env)],
        "data_stream": {},
        "priority": TEMPLATE_PRIORITY,
        "composed_of": [component_name(platform)],
        "template": {"settings": {"index.lifecycle.name": policy_name(platform, env, log_class)}},
    }


def rollover_age(retention_days: int) -> str:
    """Roll over often enough that deletion is close to the retention (data lives at most
    retention + one rollover period), and at most daily."""
    return "1d" if retention_days >= 2 else "12h"


def ilm_policy(platform: Platform, env: Environment, log_class: str) -> dict[str, Any]:
    days = platform.log_retention(env)[log_class]
    return {
        "policy": {
            "_meta": {"managed_by": "obs", "log_class": log_class, "environment": env.name, "retention_days": days},
            "phases": {
                "hot": {
                    "min_age": "0ms",
                    "actions": {
                        "rollover": {"max_age": rollover_age(days), "max_primary_shard_size": "50gb"},
                        "set_priority": {"priority": 100},
                    },
                },
                # min_age of the delete phase counts from rollover, so it is the retention itself.
                "delete": {"min_age": f"{days}d", "actions": {"delete": {}}},
            },
        }
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    platform, env = ctx.platform, ctx.env
    yield Artifact(f"{COMPONENT_DIR}/{component_name(platform)}.json", component_template(platform))
    for log_class in contract.LOG_CLASSES:
        name = policy_name(platform, env, log_class)
        yield Artifact(f"{ILM_DIR}/{name}.json", ilm_policy(platform, env, log_class))
        yield Artifact(f"{INDEX_TEMPLATE_DIR}/{name}.json", index_template(platform, env, log_class))


