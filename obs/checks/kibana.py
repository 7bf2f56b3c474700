"""Checks of the Kibana saved objects: JSON Schema, references and embedded JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from obs.artifacts import Outcome
from obs.renderers.kibana import SAVED_OBJECTS_PATH
from obs.schemas import read_data, validate_file


def check(env_dir: Path) -> Iterable[Outcome]:
    path = env_dir / SAVED_OBJECTS_PATH
    problems = validate_file("kibana-saved-objects", path)
    yield Outcome("schema kibana-saved-objects", "failed" if problems else "passed", "\n".join(problems))
    if problems:
        return
    objects = read_data(path)
    ids = {(o["type"], o["id"]) for o in objects}
    dangling = [
        f"{o['type']} {o['id']} references {r['type']} {r['id']}, which the file does not contain"
        for o in objects
        for r in o["references"]
        if (r["type"], r["id"]) not in ids
    ]
    yield Outcome(
        "kibana references resolve inside the file", "failed" if dangling else "passed", "\n".join(dangling)
    )
    yield from _check_embedded_json(objects)


def _check_embedded_json(objects: list[dict[str, Any]]) -> Iterable[Outcome]:
    """The JSON Kibana keeps as strings must parse, and a search's index ref must be declared."""
    problems: list[str] = []
    for o in objects:
        attrs = o["attributes"]
        embedded = {
            "fieldFormatMap": attrs.get("fieldFormatMap"),
            "searchSourceJSON": attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON"),
        }
        for key, text in embedded.items():
            if text is None:
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                problems.append(f"{o['id']}: {key} is not JSON: {exc}")
                continue
            ref = value.get("indexRefName") if key == "searchSourceJSON" else None
            if ref and ref not in {r["name"] for r in o["references"]}:
                problems.append(f"{o['id']}: indexRefName {ref!r} names no reference")
    yield Outcome("kibana embedded JSON parses", "failed" if problems else "passed", "\n".join(problems))


__all__ = ["check"]
