"""Burn-rate maths for SLO alerts: which windows to record, which factors to alert on.

The window table is data (``obs/windows/google.yaml``, from the Google SRE workbook), not
constants in code: each entry spends a share of the error budget within a long window, and the
burn-rate factor follows from the SLO's own window. A 30-day SLO pages at 14.4x over 1h and 5m; a
28-day SLO at 13.44x. Nothing here knows PromQL: :mod:`obs.render.rules` turns these values into
rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from obs.errors import ModelError
from obs.model import SLO, format_duration, parse_duration

DEFAULT_TABLE = "google"


@dataclass(frozen=True, slots=True)
class BurnRateWindow:
    """One row of the window table: an alert that fires when ``budget_percent`` of the budget is
    spent within ``long_window``, confirmed by ``short_window``."""

    name: str
    severity: str
    budget_percent: float
    long_window: str
    short_window: str
    for_: str

    @property
    def long_seconds(self) -> int:
        return parse_duration(self.long_window)

    def factor(self, slo_window_seconds: int) -> float:
        """The burn rate at which this row's share of the budget is gone within the long window."""
        return round(self.budget_percent / 100 * slo_window_seconds / self.long_seconds, 6)


@dataclass(frozen=True, slots=True)
class SLOAlertWindow:
    """A row of the table applied to one SLO: its factor is fixed, its severity may be lowered."""

    row: BurnRateWindow
    factor: float
    severity: str

    @property
    def long_window(self) -> str:
        return self.row.long_window

    @property
    def short_window(self) -> str:
        return self.row.short_window

    @property
    def for_(self) -> str:
        return self.row.for_


def _row(entry: Any, where: str) -> BurnRateWindow:
    if not isinstance(entry, dict):
        raise ModelError(where, f"{entry!r} is not a mapping", "see obs/windows/google.yaml")
    missing = {"name", "severity", "budget_percent", "long_window", "short_window", "for"} - set(entry)
    if missing:
        raise ModelError(where, f"missing {', '.join(sorted(missing))}", "see obs/windows/google.yaml")
    if entry["severity"] not in ("page", "ticket"):
        raise ModelError(
            f"{where}.severity", f"{entry['severity']!r} is not page or ticket", "use page or ticket"
        )
    for key in ("long_window", "short_window", "for"):
        parse_duration(entry[key], f"{where}.{key}")
    if parse_duration(entry["short_window"]) >= parse_duration(entry["long_window"]):
        raise ModelError(
            f"{where}.short_window", "the short window must be shorter than the long one", "e.g. 5m with 1h"
        )
    return BurnRateWindow(
        name=str(entry["name"]),
        severity=str(entry["severity"]),
        budget_percent=float(entry["budget_percent"]),
        long_window=entry["long_window"],
        short_window=entry["short_window"],
        for_=entry["for"],
    )


@cache
def window_table(name: str = DEFAULT_TABLE) -> tuple[BurnRateWindow, ...]:
    """The rows of ``obs/windows/<name>.yaml``."""
    source = resources.files("obs") / "windows" / f"{name}.yaml"
    where = f"obs/windows/{name}.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(where, "no such window table", f"use {DEFAULT_TABLE!r}") from None
    rows = tuple(_row(entry, f"{where}: alerts[{i}]") for i, entry in enumerate(data.get("alerts", [])))
    if not rows:
        raise ModelError(where, "the table has no alerts", "add at least one row")
    return rows


def longest_alert_window(table: Sequence[BurnRateWindow] | None = None) -> int:
    rows = window_table() if table is None else table
    return max(r.long_seconds for r in rows)


def alert_windows(
    slo: SLO, where: str = "", table: Sequence[BurnRateWindow] | None = None
) -> tuple[SLOAlertWindow, ...]:
    """The burn-rate alerts of one SLO, in table order (fastest first).

    Raises :class:`ModelError` when the SLO window cannot hold the longest alert window: the
    budget maths would then be meaningless (a 3d alert window on a 2d SLO).
    """
    rows = window_table() if table is None else table
    longest = longest_alert_window(rows)
    if slo.window_seconds <= longest:
        raise ModelError(
            f"{where}slos[{slo.name}].window",
            f"{slo.window} is not longer than the longest alert window ({format_duration(longest)})",
            "use 28d or 30d",
        )
    windows: list[SLOAlertWindow] = []
    for row in rows:
        severity = row.severity
        if severity == "page" and not slo.page:
            # page: false keeps the fast alerts (they still mean the budget is going), as tickets.
            severity = "ticket"
        windows.append(SLOAlertWindow(row=row, factor=row.factor(slo.window_seconds), severity=severity))
    return tuple(windows)


def recording_windows(slo: SLO, table: Sequence[BurnRateWindow] | None = None) -> tuple[str, ...]:
    """Every window a ratio is recorded over: each alert's long and short windows, shortest first.
    The SLO window itself is computed from the 5m recordings (see :mod:`obs.render.rules`)."""
    rows = window_table() if table is None else table
    seconds = {parse_duration(w) for r in rows for w in (r.long_window, r.short_window)}
    seconds.add(300)  # 5m also feeds the current burn rate and the SLO window's average
    return tuple(format_duration(s) for s in sorted(seconds))


__all__ = [
    "DEFAULT_TABLE",
    "BurnRateWindow",
    "SLOAlertWindow",
    "alert_windows",
    "longest_alert_window",
    "recording_windows",
    "window_table",
]
