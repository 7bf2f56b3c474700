"""Panel shapes several dashboards share: written once, so they read and look the same everywhere."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from obs.grafana import Panel, Target, Thresholds, ValueText, stat

#: 0 reads DOWN in red, 1 reads UP in green.
DOWN_UP = (ValueText("0", "DOWN", "red"), ValueText("1", "UP", "green"))


def up_stat(title: str, *targets: Target, description: str, **options: Any) -> Panel:
    """A stat of a 0/1 series (``up``, ``pg_up``, ``probe_success``): DOWN in red below 1, UP in green."""
    return stat(
        title,
        *targets,
        unit="short",
        thresholds=Thresholds.below(1),
        value_texts=DOWN_UP,
        description=description,
        **options,
    )


def with_width(panel: Panel, width: int) -> Panel:
    """``panel`` laid out ``width`` columns wide (of 24)."""
    return replace(panel, width=width)


__all__ = ["DOWN_UP", "up_stat", "with_width"]
