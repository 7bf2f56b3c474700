"""Kibana: data views over the log data streams and a saved search per service, as one NDJSON file
for ``POST /api/saved_objects/_import`` (Stack Management → Saved objects → Import).

Trace ids render as links into Jaeger, so a log line leads to its trace in one click.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.formats.conventions import LEVEL, MESSAGE, SERVICE_NAME, TIMESTAMP, log_field, stream_pattern
from obs.model import Platform

SAVED_OBJECTS_PATH = "kibana/saved_objects.ndjson"
#: Saved-object format of Kibana 8.8+ (what Kibana writes on export).
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = "8.0.0"
SEARCH_COLUMNS: tuple[str, ...] = (
    LEVEL,
    contract.LOG_CLASS_FIELD,
    MESSAGE,
    log_field("http.route"),
    log_field("http.response.status_code"),
    contract.TRACE_ID_FIELD,
)
_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _compact(data: Any) -> str:
    """Kibana stores nested JSON as strings; sorted keys keep the file deterministic."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def all_logs_id(platform: Platform) -> str:
    return f"logs-{platform.name}"


def data_view(platform: Platform, view_id: str, title: str, name: str) -> dict[str, Any]:
    trace_link = {
        contract.TRACE_ID_FIELD: {
            "id": "url",
            "params": {"urlTemplate": f"{platform.jaeger_url.rstrip('/')}/trace/{{{{value}}}}", "labelTemplate": "{{value}}"},
        }
    }
    return {
        "type": "index-pattern",
        "id": view_id,
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": TIMESTAMP,
            "fieldFormatMap": _compact(trace_link),
        },
        "references": [],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION,
    }


def saved_search(platform: Platform, service: str) -> dict[str, Any]:
    source = {
        "query": {"query": f'{SERVICE_NAME} : "{service}"', "language": "kuery"},
        "filter": [],
        "indexRefName": _INDEX_REF,
    }
    return {
        "type": "search",
        "id": f"{all_logs_id(platform)}-{service}",
        "attributes": {
            "title": f"{service} logs",
            "description": f"Every log line of {service}, newest first, with its trace link.",
            "columns": list(SEARCH_COLUMNS),
            "sort": [[TIMESTAMP, "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": _compact(source)},
        },
        "references": [{"name": _INDEX_REF, "type": "index-pattern", "id": all_logs_id(platform)}],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION,
    }


def saved_objects(platform: Platform) -> list[dict[str, Any]]:
    objects = [data_view(platform, all_logs_id(platform), f"logs-{platform.name}.*-*", f"{platform.name} logs")]
    for log_class in contract.LOG_CLASSES:
        objects.append(
            data_view(platform, f"{all_logs_id(platform)}.{log_class}", stream_pattern(platform, log_class), f"{platform.name} {log_class} logs")
        )
    objects.extend(saved_search(platform, s.name) for s in platform.instrumented_services)
    return objects


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(SAVED_OBJECTS_PATH, saved_objects(ctx.platform))


