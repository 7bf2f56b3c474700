"""Incidents played against the SLO rules: the series of each, and when page and ticket fire.

The SLO rule files are tested over whole incidents (a short total outage, a slow burn over days,
...): promtool replays days of synthetic traffic and asserts the exact evaluations at which the
page and the ticket start and stop. The expected timeline comes from :class:`Replay`, which
evaluates the SLO rules of :mod:`obs.catalogue.alerts.slo` the way Prometheus 2 does on promtool's
grid (``extrapolatedRate``, ranges that include their start, ``*_over_time``, recordings that
stop, ``keep_firing_for``), so each assertion is what the rules must do, computed apart from them.

Traffic is given per 5m step in whole requests, so every counter is an integer and promtool reads
exactly the numbers the replay uses. A value within 1e-9 of a threshold, or of a rounding
boundary of the ``%.1f`` an annotation prints, could go either way in floating point: such an
incident is nudged (a few more requests before it) until no asserted evaluation sits on one.

Everything here depends on the SLO's shape (:class:`SLOShape`), not on the service: alike SLOs
replay each incident once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from obs.model import SLO, LatencySLI, parse_duration
from obs.rules.testgen import num
from obs.slo import (
    KEEP_FIRING_FOR,
    MIN_FAILED_REQUESTS,
    SLICE_WINDOW,
    SLOAlertWindow,
    by_severity,
    firing_windows,
    sliced,
)

#: promtool's evaluation and input interval in SLO test files: the slices then tile the long
#: windows exactly, and days of history stay cheap to replay.
STEP_SECONDS = 300
#: Healthy history before every incident: the longest alert window, full.
LEAD_STEPS = 3 * 86400 // STEP_SECONDS
#: Requests per step at normal traffic (100/s): budgets down to 99.99% still get whole failures.
NORMAL_PER_STEP = 30_000
#: The background burn of healthy traffic, in budgets.
HEALTHY_BURN = 0.1
TOLERANCE = 1e-9
SEVERITY_ORDER = ("page", "ticket", "info")


@dataclass(frozen=True, slots=True)
class Step:
    """One 5m step of traffic: requests and failed requests in it; ``scraped`` False: the sample
    at the end of the step is missing (a scrape gap)."""

    total: int
    bad: int
    scraped: bool = True


@dataclass(frozen=True, slots=True, eq=False)
class Incident:
    """An incident after healthy history: ``steps[lead:]`` is the incident and its tail."""

    key: str
    title: str
    steps: tuple[Step, ...]
    lead: int

    def counters(self) -> tuple[list[float | None], list[float | None]]:
        """Total and failed requests so far, sampled at each evaluation (None: not scraped)."""
        total: list[float | None] = [0.0]
        bad: list[float | None] = [0.0]
        t = b = 0
        for step in self.steps:
            t, b = t + step.total, b + step.bad
            total.append(float(t) if step.scraped else None)
            bad.append(float(b) if step.scraped else None)
        return total, bad


@dataclass(frozen=True, slots=True)
class SLOShape:
    """What the SLO alerts of one SLO depend on: alike SLOs replay alike, whatever the service."""

    budget: float
    objective: float
    latency: bool
    min_request_rate: float
    windows: tuple[SLOAlertWindow, ...]

    @staticmethod
    def of(slo: SLO) -> SLOShape:
        return SLOShape(
            budget=float(num(round(slo.error_budget, 12))),
            objective=slo.objective,
            latency=isinstance(slo.sli, LatencySLI),
            min_request_rate=slo.min_request_rate,
            windows=firing_windows(slo),
        )

    def severities(self, only: str = "") -> dict[str, tuple[SLOAlertWindow, ...]]:
        """Severity → its rows (one alert each); ``only``: every row at that severity."""
        if only:
            return {only: self.windows}
        grouped = by_severity(self.windows)
        return {s: grouped[s] for s in sorted(grouped, key=SEVERITY_ORDER.index)}


@dataclass(frozen=True)
class Timeline:
    """Per severity, the alert's value at each evaluation (every :data:`STEP_SECONDS` from 0),
    None when it does not fire; and the evaluations a test must not assert on."""

    firing: dict[str, list[float | None]]
    ambiguous: frozenset[int]

    @property
    def evaluations(self) -> int:
        return len(next(iter(self.firing.values()), []))

    def intervals(self, severity: str) -> list[tuple[int, int]]:
        """[start, stop) evaluation indexes during which ``severity`` fires."""
        out: list[tuple[int, int]] = []
        start: int | None = None
        values = self.firing.get(severity, [])
        for i, v in enumerate(values):
            if v is not None and start is None:
                start = i
            elif v is None and start is not None:
                out.append((start, i))
                start = None
        if start is not None:
            out.append((start, len(values)))
        return out

    def checkpoints(self, lead: int) -> list[int]:
        """Evaluations to assert on: each side of every start and stop, the middle of every
        stretch between them, the last evaluation before the incident and the last one."""
        n = self.evaluations
        states = [tuple(self.firing[s][i] is not None for s in self.firing) for i in range(n)]
        changes = [i for i in range(lead + 1, n) if states[i] != states[i - 1]]
        points = {lead, n - 1}
        for i in changes:
            points.update((i - 1, i))
        bounds = [lead, *changes, n]
        for a, b in itertools.pairwise(bounds):
            points.add((a + b - 1) // 2)
        return sorted(p for p in points if 0 <= p < n)

    def unstable(self, points: Sequence[int]) -> list[int]:
        """The points among ``points`` that sit on a threshold or on a rounding boundary."""
        return [
            p
            for p in points
            if p in self.ambiguous or any(v is not None and not stable(v) for v in (f[p] for f in self.firing.values()))
        ]


def stable(value: float) -> bool:
    """Whether ``printf "%.1f"`` reads the same a hair either side of ``value``."""
    return f"{value * (1 - TOLERANCE):.1f}" == f"{value * (1 + TOLERANCE):.1f}"


def _close(value: float, threshold: float) -> bool:
    return abs(value - threshold) <= TOLERANCE * max(1.0, abs(threshold))


def _steps(window: str) -> int:
    return parse_duration(window) // STEP_SECONDS


# --- the rules, evaluated ------------------------------------------------------------------------


class _Samples:
    """Which evaluations have a sample (every series of an incident is scraped together)."""

    def __init__(self, present: Sequence[bool]) -> None:
        n = len(present)
        self.count = [0] * (n + 1)
        for i, p in enumerate(present):
            self.count[i + 1] = self.count[i] + p
        self.next: list[int | None] = [None] * (n + 1)
        for i in range(n - 1, -1, -1):
            self.next[i] = i if present[i] else self.next[i + 1]
        self.prev: list[int | None] = [None] * n
        last: int | None = None
        for i in range(n):
            last = i if present[i] else last
            self.prev[i] = last

    def rate(self, values: Sequence[float | None], at: int, window_steps: int) -> float | None:
        """``rate(x[window])`` at evaluation ``at`` over the samples in [at - window, at]
        (Prometheus 2 ranges include their start), extrapolated as ``extrapolatedRate`` does.
        The counters here never reset."""
        start = at - window_steps
        lo, hi = self.next[max(0, start)], self.prev[at]
        if lo is None or hi is None or lo >= hi:
            return None
        first, last = values[lo], values[hi]
        result = last - first  # type: ignore[operator]
        if hi == at and (lo == start or (lo == 0 and first == 0)):
            # Samples at both ends (or a counter that starts at 0): no extrapolation, a factor of 1.
            return result * (1.0 / float(window_steps * STEP_SECONDS))
        samples = self.count[hi + 1] - self.count[lo]
        to_start = float((lo - (at - window_steps)) * STEP_SECONDS)
        to_end = float((at - hi) * STEP_SECONDS)
        sampled = float((hi - lo) * STEP_SECONDS)
        average = sampled / (samples - 1)
        if result > 0 and first >= 0:  # type: ignore[operator]
            to_start = min(to_start, sampled * (first / result))  # type: ignore[operator]
        threshold = average * 1.1
        extrapolate = sampled
        extrapolate += to_start if to_start < threshold else average / 2
        extrapolate += to_end if to_end < threshold else average / 2
        factor = extrapolate / sampled
        factor /= float(window_steps * STEP_SECONDS)
        return result * factor


class _Recorded:
    """A recorded series (a value per evaluation or None), with prefix sums for ``*_over_time``."""

    def __init__(self, values: Sequence[float | None]) -> None:
        self.values = list(values)
        self._sum = [0.0]
        self._count = [0]
        for v in values:
            self._sum.append(self._sum[-1] + (v if v is not None else 0.0))
            self._count.append(self._count[-1] + (v is not None))

    def over(self, at: int, window_steps: int) -> tuple[float, int]:
        """Sum and count of the samples in ``[window - 1s]`` ending at ``at``."""
        lo = max(0, at - window_steps + 1)
        return self._sum[at + 1] - self._sum[lo], self._count[at + 1] - self._count[lo]


def _sum_present(*rates: float | None) -> float | None:
    """``sum()`` over the series that have a rate (in label order); None when none has."""
    present = [r for r in rates if r is not None]
    if not present:
        return None
    total = present[0]
    for r in present[1:]:
        total += r
    return total


class Replay:
    """The SLO rules of one :class:`SLOShape`, evaluated over an incident.

    ``guard`` False replays the rules without their low-traffic guard (to show that an incident
    exercises it); ``only`` replays them with every row at one severity (a tuned alert)."""

    def __init__(self, shape: SLOShape, incident: Incident, *, guard: bool = True, only: str = "") -> None:
        self.shape, self.incident, self.guard, self.only = shape, incident, guard, only

    def run(self) -> Timeline:
        shape = self.shape
        total_c, bad_c = self.incident.counters()
        good_c = [None if t is None else t - b for t, b in zip(total_c, bad_c, strict=True)]  # type: ignore[operator]
        n = len(total_c)
        samples = _Samples([t is not None for t in total_c])
        ambiguous: set[int] = set()

        def rate_pair(at: int, w: int) -> tuple[float | None, float | None]:
            """(total, bad-or-good) rates: latency reads total and good, availability good and bad."""
            return samples.rate(total_c, at, w), samples.rate(good_c if shape.latency else bad_c, at, w)

        def raw_ratio(at: int, w: int) -> float | None:
            if shape.latency:
                t, g = rate_pair(at, w)
                if t is None or g is None:
                    return None
                return 1 - g / t if t else math.nan
            rg, rb = samples.rate(good_c, at, w), samples.rate(bad_c, at, w)
            denominator = _sum_present(rg, rb)
            if denominator is None:
                return None
            # sum(rate(bad)) or vector(0), over the sum of both series.
            numerator = rb if rb is not None else 0.0
            return numerator / denominator if denominator else math.nan

        five = _steps(SLICE_WINDOW)
        total5: list[float | None] = []
        errors5: list[float | None] = []
        for at in range(n):
            if shape.latency:
                t, g = rate_pair(at, five)
                total5.append(t)
                errors5.append(None if t is None or g is None else t - g)
            else:
                rg, rb = samples.rate(good_c, at, five), samples.rate(bad_c, at, five)
                t5 = _sum_present(rg, rb)
                total5.append(t5)
                errors5.append(rb if rb is not None else (0.0 * t5 if t5 is not None else None))
        rec_total, rec_errors = _Recorded(total5), _Recorded(errors5)

        # Nothing fires in the healthy history: the alerts are evaluated from its last step on.
        begin = max(0, self.incident.lead - 1)
        ratios: dict[str, list[float | None]] = {}

        def ratio_series(window: str) -> list[float | None]:
            if window not in ratios:
                w = _steps(window)
                values: list[float | None] = [None] * begin
                if window == SLICE_WINDOW:
                    for at in range(begin, n):
                        e, t = errors5[at], total5[at]
                        values.append(None if e is None or t is None else (e / t if t else math.nan))
                elif sliced(window):
                    for at in range(begin, n):
                        e, ne = rec_errors.over(at, w)
                        t, nt = rec_total.over(at, w)
                        values.append(None if not ne or not nt else (e / t if t else math.nan))
                else:
                    values.extend(raw_ratio(at, w) for at in range(begin, n))
                ratios[window] = values
            return ratios[window]

        def above(at: int, value: float, threshold: float) -> bool:
            if _close(value, threshold):
                ambiguous.add(at)
            return value > threshold

        def at_least(at: int, value: float, threshold: float) -> bool:
            if _close(value, threshold):
                ambiguous.add(at)
            return value >= threshold

        keep = parse_duration(KEEP_FIRING_FOR) // STEP_SECONDS
        min_rate = float(num(shape.min_request_rate))
        firing: dict[str, list[float | None]] = {}
        for severity, rows in shape.severities(self.only).items():
            values: list[float | None] = [None] * begin
            last: float | None = None
            since: int | None = None
            table = [(w, ratio_series(w.long_window), ratio_series(w.short_window), float(num(w.factor))) for w in rows]
            for at in range(begin, n):
                found: float | None = None
                for w, longs, shorts, factor in table:
                    lr, sr = longs[at], shorts[at]
                    if lr is None or sr is None or math.isnan(lr) or math.isnan(sr):
                        continue
                    burn = lr / shape.budget
                    if not (above(at, burn, factor) and above(at, sr / shape.budget, factor)):
                        continue
                    if self.guard and shape.min_request_rate > 0:
                        span = w.row.long_seconds // STEP_SECONDS
                        t, nt = rec_total.over(at, span)
                        e, ne = rec_errors.over(at, span)
                        busy = bool(nt) and at_least(at, t / nt, min_rate)
                        failing = bool(ne) and above(at, e / ne * w.row.long_seconds, MIN_FAILED_REQUESTS - 0.5)
                        if not (busy or failing):
                            continue
                    found = burn
                    break
                if found is not None:
                    last, since = found, None
                elif last is not None:
                    # keep_firing_for: firing until that long after the conditions first failed.
                    since = at if since is None else since
                    if at - since >= keep:
                        last, since = None, None
                values.append(last)
            firing[severity] = values
        return Timeline(firing, frozenset(ambiguous))


# --- the incidents ------------------------------------------------------------------------------


def _healthy(per_step: int, budget: float, steps: int, burn: float = HEALTHY_BURN) -> list[Step]:
    return [Step(per_step, round(per_step * budget * burn))] * steps


def _burning(per_step: int, error_ratio: float, steps: int) -> list[Step]:
    return [Step(per_step, min(per_step, round(per_step * error_ratio)))] * steps


def _minutes(steps: int) -> str:
    minutes = steps * STEP_SECONDS // 60
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def low_traffic_per_step(shape: SLOShape) -> int:
    """Requests per step for the low-traffic incidents: at most a tenth of the guard's rate, and
    few enough that two failed requests in an hour read as a fast burn (the guard's work)."""
    fastest = shape.windows[0]
    hour_steps = 3600 // STEP_SECONDS
    burst = math.floor(0.9 * 2 / (hour_steps * fastest.factor * shape.budget))
    return max(1, min(math.floor(shape.min_request_rate * STEP_SECONDS / 10), burst))


def _isolated_spacing(shape: SLOShape) -> int:
    """Steps between pairs of failures so that no page row's long window holds three."""
    pages = [w for w in shape.windows if w.severity == "page"] or list(shape.windows[:1])
    return max(w.row.long_seconds for w in pages) // STEP_SECONDS + 1


def incidents(shape: SLOShape) -> tuple[Incident, ...]:
    """The incidents every SLO is tested over, scaled to its budget: the burn rates are those the
    issue and the workbook use for a 99.9% SLO (100% for 4 minutes, 10% for 6 hours, 0.5% over
    days, 0.05% for days), capped below what the budget allows.

    Each follows healthy history at its own traffic: three days (every window full) before the
    slow burn, one day before the others (their 3d window then averages the day it holds, which
    only makes a ticket earlier); promtool evaluates every 5 minutes of it.
    """
    b = shape.budget
    n = NORMAL_PER_STEP
    day = 86400 // STEP_SECONDS
    most = 0.9 / b

    def ratio_at(burn: float) -> float:
        return min(burn * b, most * b)

    def pct(r: float) -> str:
        return f"{r * 100:.3g}%"

    found: list[Incident] = []

    def add(key: str, title: str, steps: list[Step], per_step: int = n, lead_steps: int = day) -> None:
        lead = _healthy(per_step, b, lead_steps)
        found.append(Incident(key, title, tuple(lead + steps), len(lead)))

    # 4 minutes of a 5-minute step failing.
    add("short-total-outage", "short total outage (every request failing for 4m)",
        [Step(n, round(n * 0.8)), *_healthy(n, b, 24)])  # fmt: skip
    partial = ratio_at(100)
    add("long-partial-outage", f"long partial outage ({pct(partial)} of requests failing for 6h)",
        _burning(n, partial, 72) + _healthy(n, b, 18))  # fmt: skip
    slow = ratio_at(5)
    add("slow-burn", f"slow burn over days ({pct(slow)} of requests failing for a day after three healthy ones)",
        _burning(n, slow, day) + _healthy(n, b, 12), lead_steps=LEAD_STEPS)  # fmt: skip
    # A day at half the budget rate before the six hours checked: every window reads half.
    found.append(Incident("healthy-half-budget", f"healthy traffic at half the budget rate ({pct(0.5 * b)} failing for 30h)",
                          tuple(_healthy(n, b, day + 72, burn=0.5)), day))  # fmt: skip
    # 30 minutes of total outage, 10 of them unscraped (the service too broken to answer /metrics).
    gap = [Step(n, n), Step(n, n), Step(n, n, False), Step(n, n, False), Step(n, n), Step(n, n)]
    add("scrape-gap", "a scrape gap during a fault (30m of total outage, 10m of it unscraped)",
        gap + _healthy(n, b, 24))  # fmt: skip
    if shape.min_request_rate > 0:
        low = low_traffic_per_step(shape)
        rate = f"{low / STEP_SECONDS:.2g} req/s"
        spacing = _isolated_spacing(shape)
        # Two failed requests five minutes apart, then quiet for longer than any page window.
        isolated = [Step(low, 1 if i % spacing in (0, 1) else 0) for i in range(3 * spacing)]
        add("low-traffic-isolated", f"low traffic with isolated errors ({rate}, two failures every {_minutes(spacing)})",
            isolated + [Step(low, 0)] * 12, low)  # fmt: skip
        add("low-traffic-down", f"low traffic fully failing ({rate}, every request failing for 2h)",
            [Step(low, low)] * 24 + [Step(low, 0)] * 24, low)  # fmt: skip
    return tuple(found)


def nudged(incident: Incident, tries: int) -> Incident:
    """The incident with a few more healthy requests just before it: every ratio moves a little,
    off the threshold or the rounding boundary it sat on."""
    if not tries:
        return incident
    last = incident.steps[incident.lead - 1]
    extra = Step(last.total + 7 * tries, last.bad, last.scraped)
    steps = (*incident.steps[: incident.lead - 1], extra, *incident.steps[incident.lead :])
    return Incident(incident.key, incident.title, steps, incident.lead)


@dataclass(frozen=True, slots=True, eq=False)
class Played:
    """An incident, its timeline, and the evaluations a test asserts on (none ambiguous)."""

    incident: Incident
    timeline: Timeline
    checkpoints: tuple[int, ...]


class Unplayable(ValueError):
    """An incident whose asserted evaluations sit on a threshold however it is nudged."""


@cache
def played(shape: SLOShape, only: str = "") -> tuple[Played, ...]:
    """Every incident of ``shape`` replayed, nudged off thresholds (cached: alike SLOs share it)."""
    out: list[Played] = []
    for incident in incidents(shape):
        for tries in range(8):
            candidate = nudged(incident, tries)
            tl = Replay(shape, candidate, only=only).run()
            points = tl.checkpoints(candidate.lead)
            if not tl.unstable(points):
                out.append(Played(candidate, tl, tuple(points)))
                break
        else:
            raise Unplayable(f"{incident.title} sits on a threshold however it is nudged")
    return tuple(out)


def counter_values(values: Sequence[float | None]) -> str:
    """Values in promtool's expanding notation: runs of a constant step become ``a+bxn``, runs of
    missing samples ``_xn``. promtool expands ``a+bxn`` by repeated addition, which is exact for
    the whole numbers the incidents use."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        if values[i] is None:
            j = i
            while j < len(values) and values[j] is None:
                j += 1
            parts.append("_" if j - i == 1 else f"_x{j - i}")
            i = j
            continue
        j = i + 1
        step: float | None = None
        while j < len(values) and values[j] is not None:
            delta = values[j] - values[j - 1]  # type: ignore[operator]
            if step is None:
                step = delta
            elif delta != step:
                break
            j += 1
        count, start = j - i - 1, values[i]
        if count == 0:
            parts.append(num(start))  # type: ignore[arg-type]
        elif step == 0:
            parts.append(f"{num(start)}x{count}")  # type: ignore[arg-type]
        else:
            sign = "+" if step > 0 else "-"  # type: ignore[operator]
            parts.append(f"{num(start)}{sign}{num(abs(step))}x{count}")  # type: ignore[arg-type,arg-type]
        i = j
    return " ".join(parts)


__all__ = [
    "LEAD_STEPS",
    "STEP_SECONDS",
    "Incident",
    "Played",
    "Replay",
    "SLOShape",
    "Step",
    "Timeline",
    "Unplayable",
    "counter_values",
    "incidents",
    "low_traffic_per_step",
    "nudged",
    "played",
    "stable",
]
