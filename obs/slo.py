"""The SLO side of the rules: which windows to record, which burn rates to alert on, and the names
and labels of the series recorded.

The window table is data (``obs/windows/google.yaml``, from the Google SRE workbook), not
constants in code: each row spends a share of the error budget within a long window, and the
burn-rate factor follows from the SLO's own window. A 30-day SLO pages at 14.4x over 1h and 5m; a
28-day SLO at 13.44x. The rows of one severity make one alert (the workbook's final form).

What is recorded, and how often, is chosen for cost (see docs/alerts.md, "What the SLO rules
cost"): the windows up to :data:`SLICED_FROM` are rates over the raw counters, recorded at the
environment's evaluation interval; longer windows (1d, 3d and the SLO window) are summed from the
5m slices of bad and total events, in a group evaluated every :data:`SLOW_INTERVAL`. Fourteen
series per SLO, the burn rates computed where they are read.

The recorded series are a small public API, kept apart from the rules that compute them (as
Sloth keeps its SLO model apart from its rule generator): :class:`SLORecording` names each kind
of series for a window (``SLORecording.SLI_ERROR.series("1h")`` is ``slo:sli_error:ratio_rate1h``),
:func:`recording_labels` gives the labels every series of one SLO carries, and :func:`recordings`
every series one SLO gets, name → labels. :mod:`obs.catalogue.alerts.slo` records exactly these
(it checks so while rendering) and the dashboards select them, so a name has one definition.
Nothing here knows PromQL: the rules module writes the expressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import yaml

from obs import contract
from obs.errors import ModelError
from obs.model import SLO, Service, format_duration, parse_duration

DEFAULT_TABLE = "google"

#: The label naming the SLO on every recorded series (beside the contract's service and team).
SLO_LABEL = "slo"

#: The slice the long windows are summed from: bad and total events per second over 5m.
SLICE_WINDOW = "5m"

#: Windows at least this long are summed from the 5m slices, not read from the raw counters: a 3d
#: rate over every histogram series every evaluation is what made Sloth-style rules expensive.
SLICED_FROM = "1d"

#: How often the group of the sliced windows (and the metadata and the ticket alert, which read
#: them) is evaluated. Under Prometheus' 5m lookback, so a reader never finds the series stale.
SLOW_INTERVAL = "2m"

#: The low-traffic guard's other way through: below ``min_request_rate``, a row still fires once
#: its long window holds this many failed requests. A quiet service that fails completely alerts
#: after three failures; one failed request at night does not page.
MIN_FAILED_REQUESTS = 3

#: How long a burn-rate alert stays firing after its conditions clear: a scrape gap (a service too
#: broken to answer /metrics leaves its short window empty) or a lull inside one incident does not
#: end one page and start another.
KEEP_FIRING_FOR = "15m"

SEVERITIES = ("page", "ticket")


@dataclass(frozen=True, slots=True)
class BurnRateWindow:
    """One row of the window table: a condition that holds while ``budget_percent`` of the budget
    is being spent within ``long_window``, confirmed by ``short_window``."""

    name: str
    severity: str
    budget_percent: float
    long_window: str
    short_window: str

    @property
    def long_seconds(self) -> int:
        return parse_duration(self.long_window)

    @property
    def short_seconds(self) -> int:
        return parse_duration(self.short_window)

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

    def guard(self, slo: SLO) -> tuple[float, int] | None:
        """The low-traffic guard of this row, or None when ``min_request_rate`` is 0: the long
        window needs ``min_request_rate`` requests per second (the ratio means something), or
        :data:`MIN_FAILED_REQUESTS` failed requests (a quiet service that fails still alerts)."""
        if slo.min_request_rate <= 0:
            return None
        return slo.min_request_rate, MIN_FAILED_REQUESTS

    def detection_seconds(self, burn: float) -> float | None:
        """The workbook's detection time of this row for a constant ``burn`` over healthy history:
        the long window fills to the factor (the short one fills first). None below the factor."""
        if burn <= self.factor:
            return None
        return self.row.long_seconds * self.factor / burn


def _row(entry: Any, where: str) -> BurnRateWindow:
    fix = "see obs/windows/google.yaml"
    if not isinstance(entry, dict):
        raise ModelError(where, f"{entry!r} is not a mapping", fix)
    missing = {"name", "severity", "budget_percent", "long_window", "short_window"} - set(entry)
    if missing:
        raise ModelError(where, f"missing {', '.join(sorted(missing))}", fix)
    if "for" in entry:
        raise ModelError(f"{where}.for", "a burn-rate row has no `for`", "remove it: the short window guards against blips")
    if entry["severity"] not in SEVERITIES:
        raise ModelError(f"{where}.severity", f"{entry['severity']!r} is not page or ticket", "use page or ticket")
    for key in ("long_window", "short_window"):
        parse_duration(entry[key], f"{where}.{key}")
    if parse_duration(entry["short_window"]) >= parse_duration(entry["long_window"]):
        raise ModelError(f"{where}.short_window", "the short window must be shorter than the long one", "e.g. 5m with 1h")
    return BurnRateWindow(
        name=str(entry["name"]),
        severity=str(entry["severity"]),
        budget_percent=float(entry["budget_percent"]),
        long_window=entry["long_window"],
        short_window=entry["short_window"],
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
    """The rows of the table applied to one SLO, in table order (fastest first).

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
            # page: false keeps the fast rows (they still mean the budget is going), as tickets.
            severity = "ticket"
        windows.append(SLOAlertWindow(row=row, factor=row.factor(slo.window_seconds), severity=severity))
    return tuple(windows)


def max_burn(slo: SLO) -> float:
    """The fastest an SLO can burn: every request failing (a 99% SLO burns at most 100x)."""
    return 1 / round(slo.error_budget, 12)


def firing_windows(
    slo: SLO, where: str = "", table: Sequence[BurnRateWindow] | None = None
) -> tuple[SLOAlertWindow, ...]:
    """The rows that can fire for ``slo``: a row whose factor is at or above :func:`max_burn` could
    not fire even at 100% errors (a 90% SLO burns at most 10x) and is left out."""
    return tuple(w for w in alert_windows(slo, where, table) if w.factor < max_burn(slo))


def by_severity(windows: Sequence[SLOAlertWindow]) -> dict[str, tuple[SLOAlertWindow, ...]]:
    """The rows of each severity, fastest first: each group is one alert."""
    grouped: dict[str, list[SLOAlertWindow]] = {}
    for w in windows:
        grouped.setdefault(w.severity, []).append(w)
    return {severity: tuple(rows) for severity, rows in grouped.items()}


def workbook_detection_seconds(windows: Sequence[SLOAlertWindow], burn: float) -> float | None:
    """When an alert made of ``windows`` fires at the latest by the workbook for a constant
    ``burn`` starting over healthy history: its fastest row that the burn exceeds. None: never."""
    times = [t for w in windows if (t := w.detection_seconds(burn)) is not None]
    return min(times) if times else None


def sliced(window: str) -> bool:
    """Whether ``window`` is summed from the 5m slices in the slow group (see :data:`SLICED_FROM`)."""
    return parse_duration(window) >= parse_duration(SLICED_FROM)


def recording_windows(slo: SLO, table: Sequence[BurnRateWindow] | None = None) -> tuple[str, ...]:
    """Every window an error ratio is recorded over: each row's long and short windows and the
    5m slice, shortest first. The SLO window's ratio is recorded too (:func:`recordings`)."""
    rows = window_table() if table is None else table
    seconds = {parse_duration(w) for r in rows for w in (r.long_window, r.short_window)}
    seconds.add(parse_duration(SLICE_WINDOW))
    return tuple(format_duration(s) for s in sorted(seconds))


def range_just_under(window: str) -> str:
    """``window`` less one second, as a Prometheus range (``1d`` → ``23h59m59s``).

    Summing 5m slices over ``[1d]`` would count 289 of them where evaluations fall on the 5m grid:
    Prometheus 2 ranges include their start. One second short counts exactly the day in Prometheus
    2 and 3 alike."""
    seconds = parse_duration(window) - 1
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


# --- the recorded series ------------------------------------------------------------------------


class SLORecording(Enum):
    """Each kind of series the SLO rules record, by its name template (``level:metric:operations``).

    :meth:`series` gives the name: over a window for the windowed kind
    (``SLORecording.SLI_ERROR.series("1h")``), without one for the others
    (``SLORecording.PERIOD_BUDGET_REMAINING.series()``).
    """

    #: Requests per second over 5m: the total side of the slices the long windows sum.
    SLI_TOTAL = "slo:sli_total:rate" + SLICE_WINDOW
    #: Bad requests per second over 5m: counted, not derived from the 5m ratio, so a slice without
    #: requests adds no bad events instead of a NaN that would blank every sum over it.
    SLI_ERRORS = "slo:sli_errors:rate" + SLICE_WINDOW
    #: Fraction of bad requests over the window (Sloth's name); over the SLO window too.
    SLI_ERROR = "slo:sli_error:ratio_rate{window}"
    #: The objective (e.g. 0.999).
    OBJECTIVE = "slo:objective:ratio"
    #: The error budget, one minus the objective.
    ERROR_BUDGET = "slo:error_budget:ratio"
    #: The SLO window in days.
    TIME_PERIOD = "slo:time_period:days"
    #: One minus the budget spent over the SLO window: the fraction left (negative: overspent).
    PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"

    @property
    def windowed(self) -> bool:
        """Whether :meth:`series` takes a window."""
        return "{window}" in str(self.value)

    def series(self, window: str = "") -> str:
        """The recorded name: ``window`` (e.g. ``"1h"``) is required for the windowed kind and
        refused for the others."""
        if self.windowed and not window:
            raise ValueError(f"{self.name} is recorded per window: pass one (e.g. '1h')")
        if window and not self.windowed:
            raise ValueError(f"{self.name} has no window (got {window!r})")
        return str(self.value).format(window=window)


def recording_labels(service: Service, slo: SLO) -> dict[str, str]:
    """The labels every recorded series of ``slo`` carries: the service, its team and the SLO."""
    return {contract.SERVICE_LABEL: service.name, contract.TEAM_LABEL: service.team, SLO_LABEL: slo.name}


def fast_recordings(slo: SLO, table: Sequence[BurnRateWindow] | None = None) -> tuple[str, ...]:
    """The series of the group evaluated every evaluation interval, in order: the 5m slices, the
    error ratio over every window shorter than :data:`SLICED_FROM` (from the raw counters), and the
    constants (the burn-rate panels divide by the budget from the first evaluation on)."""
    names = [SLORecording.SLI_TOTAL.series(), SLORecording.SLI_ERRORS.series()]
    names += [SLORecording.SLI_ERROR.series(w) for w in recording_windows(slo, table) if not sliced(w)]
    names += [SLORecording.OBJECTIVE.series(), SLORecording.ERROR_BUDGET.series(), SLORecording.TIME_PERIOD.series()]
    return tuple(names)


def slow_recordings(slo: SLO, table: Sequence[BurnRateWindow] | None = None) -> tuple[str, ...]:
    """The series of the group evaluated every :data:`SLOW_INTERVAL`, in order: the error ratio
    over the sliced windows and the SLO window, and the budget left."""
    names = [SLORecording.SLI_ERROR.series(w) for w in recording_windows(slo, table) if sliced(w)]
    names += [SLORecording.SLI_ERROR.series(slo.window), SLORecording.PERIOD_BUDGET_REMAINING.series()]
    return tuple(names)


def recordings(
    service: Service, slo: SLO, table: Sequence[BurnRateWindow] | None = None
) -> dict[str, dict[str, str]]:
    """Every series the rules record for ``slo`` of ``service``, name → labels, in the order the
    rules file writes them (:func:`fast_recordings`, then :func:`slow_recordings`)."""
    labels = recording_labels(service, slo)
    return {name: dict(labels) for name in (*fast_recordings(slo, table), *slow_recordings(slo, table))}


def format_seconds(seconds: float) -> str:
    """A duration for people: ``2d 2h``, ``52s``, ``3h 36m``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{math.ceil(seconds)}s"
    minutes = math.ceil(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return " ".join(p for p in parts if p)


__all__ = [
    "DEFAULT_TABLE",
    "KEEP_FIRING_FOR",
    "MIN_FAILED_REQUESTS",
    "SEVERITIES",
    "SLICED_FROM",
    "SLICE_WINDOW",
    "SLOW_INTERVAL",
    "SLO_LABEL",
    "BurnRateWindow",
    "SLOAlertWindow",
    "SLORecording",
    "alert_windows",
    "by_severity",
    "fast_recordings",
    "firing_windows",
    "format_seconds",
    "longest_alert_window",
    "max_burn",
    "range_just_under",
    "recording_labels",
    "recording_windows",
    "recordings",
    "sliced",
    "slow_recordings",
    "window_table",
    "workbook_detection_seconds",
]
