"""Time scaling: the generated rules and Alertmanager timings divided by a factor, so that a story
that takes an hour on the real configuration plays in minutes.

At factor ``N`` (``obs demo --time-scale N``; 1 runs the build unchanged):

- the scrape and rule evaluation interval is the environment's divided by ``N``, at least 1s (set
  in the model, :func:`obs.demo.loopback.scaled_interval`, so the build writes it);
- in every rule expression, each range (``[5m]``), subquery range and step (``[1h:5m]``) and
  ``offset`` is divided by ``N``, at least four scaled scrape intervals (a ``rate()`` needs
  samples to work on: Grafana's ``$__rate_interval`` rule);
- every rule's ``for`` and ``keep_firing_for`` is divided by ``N`` (a non-zero one stays at least 1s);
- Alertmanager's ``group_wait``, ``group_interval``, ``repeat_interval`` (every route) and
  ``resolve_timeout`` are divided by ``N``, at least 1s.

Nothing else changes: thresholds, objectives, burn-rate factors, label sets, routing, inhibition,
receivers, and the names of recorded series (``slo:burn_rate:ratio_rate5m`` keeps its name while
it covers 5m / N). The scaled copies are written beside the build; the build stays as generated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from obs.errors import ObsError
from obs.model import format_duration

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
_PART = re.compile(r"(\d+)(ms|[smhdwy])")
#: A range or subquery: ``[5m]``, ``[1h:5m]``, ``[1h:]``; or an offset: ``offset 5m``, ``offset -5m``.
_RANGE = re.compile(r"\[\s*(" + _DURATION.pattern + r")\s*(?::\s*(" + _DURATION.pattern + r")?\s*)?\]")
_OFFSET = re.compile(r"(\boffset\s+-?)(" + _DURATION.pattern + r")\b", re.IGNORECASE)


class TimeScaleError(ObsError):
    """A duration of the generated output could not be scaled."""


def seconds(duration: str) -> float:
    """Seconds in a PromQL/Alertmanager duration, compound ones included (``1h30m``)."""
    text = duration.strip()
    if not _DURATION.fullmatch(text):
        raise TimeScaleError(f"{duration!r} is not a duration")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def scale(duration: str, factor: float, floor: int = 1) -> str:
    """``duration`` / ``factor`` in whole seconds, at least ``floor`` (zero stays zero)."""
    value = seconds(duration)
    if value == 0:
        return duration
    return format_duration(max(floor, round(value / factor)))


def _outside_strings(expr: str) -> list[tuple[int, int]]:
    """Spans of ``expr`` that are neither string literals nor comments (only those hold durations)."""
    spans: list[tuple[int, int]] = []
    start = i = 0
    while i < len(expr):
        ch = expr[i]
        if ch in "\"'`":
            spans.append((start, i))
            i += 1
            while i < len(expr) and expr[i] != ch:
                i += 2 if expr[i] == "\\" and ch != "`" else 1
            start = i + 1
        elif ch == "#":
            spans.append((start, i))
            i = expr.find("\n", i)
            if i < 0:
                return spans
            start = i
        i += 1
    spans.append((start, len(expr)))
    return spans


def scale_expr(expr: str, factor: float, range_floor: int) -> str:
    """``expr`` with every range, subquery and offset divided by ``factor`` (see the module docstring)."""

    def ranges(match: re.Match[str]) -> str:
        window = scale(match.group(1), factor, range_floor)
        if match.group(0).find(":") < 0:
            return f"[{window}]"
        step = scale(match.group(2), factor, 1) if match.group(2) else ""
        return f"[{window}:{step}]"

    def offsets(match: re.Match[str]) -> str:
        return match.group(1) + scale(match.group(2), factor, 1)

    out: list[str] = []
    last = 0
    for begin, end in _outside_strings(expr):
        out.append(expr[last:begin])
        out.append(_OFFSET.sub(offsets, _RANGE.sub(ranges, expr[begin:end])))
        last = end
    out.append(expr[last:])
    return "".join(out)


def scale_rule_file(document: Mapping[str, Any], factor: float, range_floor: int) -> dict[str, Any]:
    """A rule file (``groups:``) with its expressions, ``for``, ``keep_firing_for`` and group
    ``interval`` scaled."""
    groups: list[dict[str, Any]] = []
    for group in document.get("groups") or []:
        scaled_group = dict(group)
        if "interval" in group:
            scaled_group["interval"] = scale(str(group["interval"]), factor)
        rules: list[dict[str, Any]] = []
        for rule in group.get("rules") or []:
            scaled = dict(rule)
            scaled["expr"] = scale_expr(str(rule["expr"]), factor, range_floor)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    scaled[key] = scale(str(rule[key]), factor)
            rules.append(scaled)
        scaled_group["rules"] = rules
        groups.append(scaled_group)
    return {**document, "groups": groups}


_ROUTE_TIMINGS = ("group_wait", "group_interval", "repeat_interval")


def _scale_route(route: Mapping[str, Any], factor: float) -> dict[str, Any]:
    scaled = dict(route)
    for key in _ROUTE_TIMINGS:
        if key in route:
            scaled[key] = scale(str(route[key]), factor)
    if "routes" in route:
        scaled["routes"] = [_scale_route(child, factor) for child in route["routes"]]
    return scaled


def scale_alertmanager(config: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """An Alertmanager configuration with its route timings and ``resolve_timeout`` scaled."""
    scaled = dict(config)
    if "global" in config and "resolve_timeout" in config["global"]:
        scaled["global"] = {**config["global"], "resolve_timeout": scale(str(config["global"]["resolve_timeout"]), factor)}
    if "route" in config:
        scaled["route"] = _scale_route(config["route"], factor)
    return scaled


__all__ = ["TimeScaleError", "scale", "scale_alertmanager", "scale_expr", "scale_rule_file", "seconds"]
