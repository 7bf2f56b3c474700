"""Grafana's variables in a preview: the time window and its step, the values of the dashboard's
variables, and their expansion in a query the way Grafana expands them."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obs.errors import RenderError
from obs.model import parse_duration

log = logging.getLogger(__name__)

MAX_POINTS = 240


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    step: int
    scrape_interval: int

    @property
    def rate_interval(self) -> int:
        # Grafana's definition: max(4 x scrape interval, step + scrape interval).
        return max(4 * self.scrape_interval, self.step + self.scrape_interval)

    @property
    def range_seconds(self) -> int:
        return max(1, round(self.end - self.start))


def make_window(
    time_range: str | tuple[datetime, datetime], scrape_interval: str, now: float | None = None
) -> Window:
    if isinstance(time_range, str):
        end = now if now is not None else time.time()
        start = end - parse_duration(time_range, "time_range")
    else:
        start, end = time_range[0].timestamp(), time_range[1].timestamp()
    if end <= start:
        raise RenderError(f"preview: the time range ends before it starts ({start} .. {end})")
    step = max(1, math.ceil((end - start) / MAX_POINTS))
    return Window(start, end, step, parse_duration(scrape_interval))


def variable_values(
    dashboard: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each template variable's value as Grafana would substitute it into a query."""
    values: dict[str, str] = {}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        name = variable.get("name")
        if not name or variable.get("type") == "datasource":
            continue
        current = (variable.get("current") or {}).get("value")
        if isinstance(current, list):
            current = "|".join(current) if len(current) != 1 else current[0]
        if current in (None, "", "$__all") or current == ["$__all"]:
            current = variable.get("allValue") or ".*"
        values[name] = str(current)
    values.update(overrides or {})
    return values


_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute(expr: str, values: Mapping[str, str], window: Window) -> str:
    builtins = {
        "__rate_interval": f"{window.rate_interval}s",
        "__interval": f"{window.step}s",
        "__range": f"{window.range_seconds}s",
        "__range_s": str(window.range_seconds),
        "__range_ms": str(window.range_seconds * 1000),
        "__interval_ms": str(window.step * 1000),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        return values.get(name, match.group(0))

    return _VAR.sub(replace, expr)


__all__ = ["MAX_POINTS", "Window", "make_window", "substitute", "variable_values"]
