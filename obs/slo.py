"""The SLO side of the rules: which windows to record, which factors to alert on, and the names
and labels of the series recorded.

The window table is data (``obs/windows/google.yaml``, from the Google SRE workbook), not
constants in code: each entry spends a share of the error budget within a long window, and the
burn-rate factor follows from the SLO's own window. A 30-day SLO pages at 14.4x over 1h and 5m; a
28-day SLO at 13.44x.

The recorded series are a small public API, kept apart from the rules that compute them (as
Sloth keeps its SLO model apart from its rule generator): :class:`SLORecording` names each kind
of series for a window (``SLORecording.BURN_RATE.series("1h")`` is ``slo:burn_rate:ratio_rate1h``),
:func:`recording_labels` gives the labels every series of one SLO carries, and :func:`recordings`
every series one SLO gets, name → labels. :mod:`obs.render.rules` records exactly these (it checks
so while rendering) and the dashboards select them, so a name has one definition. Nothing here
knows PromQL: the rules module writes the expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import yaml

from obs import contract
from obs.errors import ModelError
from obs.model import SLO, LatencySLI, Service, format_duration, parse_duration

DEFAULT_TABLE = "google"

#: The label naming the SLO on every recorded series (beside the contract's service and team).
SLO_LABEL = "slo"

#: The only window the error rate is recorded over: the SLO window's ratio sums its 5m slices.
SLICE_WINDOW = "5m"


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
    # 5m also feeds the current burn rate and the SLO window's average.
    seconds.add(parse_duration(SLICE_WINDOW))
    return tuple(format_duration(s) for s in sorted(seconds))


# --- the recorded series ------------------------------------------------------------------------


class SLORecording(Enum):
    """Each kind of series the SLO rules record, by its name template (``level:metric:operations``).

    :meth:`series` gives the name: over a window for the windowed kinds
    (``SLORecording.SLI_ERROR.series("1h")``), without one for the others
    (``SLORecording.PERIOD_BUDGET_REMAINING.series()``).
    """

    #: Requests per second over the window.
    SLI_TOTAL = "slo:sli_total:rate{window}"
    #: Latency SLOs only: fraction of requests answered within the threshold over the window.
    SLI_GOOD = "slo:sli_good:ratio_rate{window}"
    #: Fraction of bad requests over the window; over the SLO window too, from the 5m slices.
    SLI_ERROR = "slo:sli_error:ratio_rate{window}"
    #: The error ratio over the window divided by the error budget: 1 spends it exactly over the
    #: SLO window.
    BURN_RATE = "slo:burn_rate:ratio_rate{window}"
    #: Bad requests per second over 5m: the slices the SLO-window ratio sums.
    SLI_ERRORS = "slo:sli_errors:rate" + SLICE_WINDOW
    #: The objective (e.g. 0.999).
    OBJECTIVE = "slo:objective:ratio"
    #: The error budget, one minus the objective.
    ERROR_BUDGET = "slo:error_budget:ratio"
    #: The SLO window in days.
    TIME_PERIOD = "slo:time_period:days"
    #: The error ratio over the SLO window divided by the budget: the fraction of it spent.
    PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
    #: One minus the budget spent: the fraction left (negative: overspent).
    PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"

    @property
    def windowed(self) -> bool:
        """Whether :meth:`series` takes a window."""
        return "{window}" in str(self.value)

    def series(self, window: str = "") -> str:
        """The recorded name: ``window`` (e.g. ``"1h"``) is required for the windowed kinds and
        refused for the others."""
        if self.windowed and not window:
            raise ValueError(f"{self.name} is recorded per window: pass one (e.g. '1h')")
        if window and not self.windowed:
            raise ValueError(f"{self.name} has no window (got {window!r})")
        return str(self.value).format(window=window)


def recording_labels(service: Service, slo: SLO) -> dict[str, str]:
    """The labels every recorded series of ``slo`` carries: the service, its team and the SLO."""
    return {contract.SERVICE_LABEL: service.name, contract.TEAM_LABEL: service.team, SLO_LABEL: slo.name}


def recordings(
    service: Service, slo: SLO, table: Sequence[BurnRateWindow] | None = None
) -> dict[str, dict[str, str]]:
    """Every series the rules record for ``slo`` of ``service``, name → labels, in the order the
    rules file writes them: per recording window (shortest first) the request rate, the good ratio
    (latency SLOs), the error ratio and the burn rate; then the 5m error rate, and the metadata
    (objective, budget, period, the SLO-window ratio, budget spent and left)."""
    labels = recording_labels(service, slo)
    latency = isinstance(slo.sli, LatencySLI)
    names: list[str] = []
    for window in recording_windows(slo, table):
        names.append(SLORecording.SLI_TOTAL.series(window))
        if latency:
            names.append(SLORecording.SLI_GOOD.series(window))
        names += [SLORecording.SLI_ERROR.series(window), SLORecording.BURN_RATE.series(window)]
    names += [
        SLORecording.SLI_ERRORS.series(),
        SLORecording.OBJECTIVE.series(),
        SLORecording.ERROR_BUDGET.series(),
        SLORecording.TIME_PERIOD.series(),
        SLORecording.SLI_ERROR.series(slo.window),
        SLORecording.PERIOD_BURN_RATE.series(),
        SLORecording.PERIOD_BUDGET_REMAINING.series(),
    ]
    return {name: dict(labels) for name in names}


__all__ = [
    "DEFAULT_TABLE",
    "SLICE_WINDOW",
    "SLO_LABEL",
    "BurnRateWindow",
    "SLOAlertWindow",
    "SLORecording",
    "alert_windows",
    "longest_alert_window",
    "recording_labels",
    "recording_windows",
    "recordings",
    "window_table",
]
