"""Checks of the Jaeger configuration: JSON Schemas and pipeline wiring."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from obs.artifacts import Outcome
from obs.formats import collector_config
from obs.renderers.jaeger import CONFIG_PATH, STRATEGIES_MOUNT, STRATEGIES_PATH
from obs.schemas import read_data, validate_file


def check(env_dir: Path) -> Iterable[Outcome]:
    for schema, rel in (("jaeger-sampling-strategies", STRATEGIES_PATH), ("jaeger-config", CONFIG_PATH)):
        problems = validate_file(schema, env_dir / rel)
        yield Outcome(f"schema {schema}", "failed" if problems else "passed", "\n".join(problems))
    try:
        data = read_data(env_dir / CONFIG_PATH)
    except (OSError, ValueError) as exc:
        yield Outcome("jaeger pipeline wiring", "failed", str(exc))
        return
    problems = collector_config.check(data)
    mounted = data.get("extensions", {}).get("remote_sampling", {}).get("file", {}).get("path")
    if mounted != STRATEGIES_MOUNT:
        problems.append(
            f"remote_sampling reads {mounted!r}, not the rendered strategies ({STRATEGIES_MOUNT})"
        )
    strategies_data = json.loads((env_dir / STRATEGIES_PATH).read_text())
    for s in strategies_data.get("service_strategies", []):
        names = [o["operation"] for o in s.get("operation_strategies", [])]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"service {s['service']}: operations listed twice: {', '.join(dupes)}")
    yield Outcome("jaeger pipeline wiring", "failed" if problems else "passed", "\n".join(problems))


__all__ = ["check"]
