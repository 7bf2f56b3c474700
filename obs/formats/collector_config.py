"""Structure of OpenTelemetry Collector configurations (Jaeger v2 is one as well).

The collector refuses to start when a pipeline names a component that is not configured, and
silently ignores configured components no pipeline uses (a processor meant to redact that never
runs). :func:`check` reports both, without a collector binary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PIPELINE_KINDS = ("receivers", "processors", "exporters", "connectors")


def check(config: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    service = config.get("service")
    if not isinstance(service, Mapping):
        return ["no service section"]
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("service.pipelines is empty: nothing runs")
    used: dict[str, set[str]] = {kind: set() for kind in PIPELINE_KINDS}
    for name, pipeline in pipelines.items():
        signal = name.split("/")[0]
        if signal not in ("traces", "metrics", "logs"):
            problems.append(f"pipeline {name!r}: {signal!r} is not a signal (traces, metrics, logs)")
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind) or []:
                defined = config.get(kind) or {}
                connectors = config.get("connectors") or {}
                if component not in defined and not (kind != "processors" and component in connectors):
                    problems.append(f"pipeline {name!r} uses {kind[:-1]} {component!r}, which {kind} does not configure")
                used[kind].add(component)
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problems.append(f"pipeline {name!r} needs at least one receiver and one exporter")
    for kind in ("receivers", "processors", "exporters"):
        for component in config.get(kind) or {}:
            if component not in used[kind]:
                problems.append(f"{kind[:-1]} {component!r} is configured but no pipeline uses it")
    extensions = config.get("extensions") or {}
    enabled = service.get("extensions") or []
    for ext in enabled:
        if ext not in extensions:
            problems.append(f"service.extensions names {ext!r}, which extensions does not configure")
    for ext in extensions:
        if ext not in enabled:
            problems.append(f"extension {ext!r} is configured but not enabled in service.extensions")
    return problems


__all__ = ["PIPELINE_KINDS", "check"]
