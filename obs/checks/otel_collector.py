"""Checks of the OpenTelemetry Collector configuration: pipeline wiring and processor order."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from obs.artifacts import Outcome
from obs.formats import collector_config
from obs.renderers.otel_collector import CONFIG_PATH
from obs.schemas import read_data


def check(env_dir: Path) -> Iterable[Outcome]:
    try:
        data = read_data(env_dir / CONFIG_PATH)
    except (OSError, ValueError) as exc:
        yield Outcome("otel-collector pipeline wiring", "failed", str(exc))
        return
    problems = collector_config.check(data)
    order = data.get("service", {}).get("pipelines", {}).get("traces", {}).get("processors", [])
    # Redaction must run before sampling and batching hand data on, and memory_limiter first.
    if order[:1] != ["memory_limiter"]:
        problems.append("memory_limiter must be the first processor")
    if (
        "redaction" in order
        and "tail_sampling" in order
        and order.index("redaction") > order.index("tail_sampling")
    ):
        problems.append("redaction must run before tail_sampling")
    yield Outcome("otel-collector pipeline wiring", "failed" if problems else "passed", "\n".join(problems))


__all__ = ["check"]
