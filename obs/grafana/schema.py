"""Validate dashboard JSON against ``dashboard.schema.json`` (a data file next to this module).

Grafana publishes no JSON Schema for dashboards and none can run here, so the schema pins the
subset obs emits and relies on; keys outside it pass untouched (grafanalib adds many).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("dashboard.schema.json")


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.validators.validator_for(schema())(schema())


def validate(dashboard: Any) -> list[str]:
    """Every violation as ``<json path>: <message>``; empty when valid."""
    errors = sorted(_validator().iter_errors(dashboard), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


__all__ = ["SCHEMA_PATH", "schema", "validate"]
