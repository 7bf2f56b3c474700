"""Prometheus recording and alerting rules, with their promtool unit tests.

Output (relative to the environment folder; ``prometheus/prometheus.yml`` loads ``rules/*.yml``):

``prometheus/rules/slo-<service>-<slo>.yml``  one file per SLO, with its groups by purpose:
      ``<platform>-slo-sli-*``     SLI recordings: request rate, error ratio (latency SLOs: also
                                   the good ratio) and burn rate over every window the alerts read
      ``<platform>-slo-meta-*``    objective, error budget, SLO-window ratio, budget remaining
      ``<platform>-slo-alerts-*``  multi-window multi-burn-rate alerts (``ErrorBudgetBurn``)
``prometheus/rules/<purpose>.yml``  symptom and cause alerts: services, targets, postgres, redis,
      node, probes, self-monitoring, and ``custom`` (the alerts of the ``alerts`` package)
``prometheus/tests/<file>.test.yml``  promtool unit tests generated from every alert's cases
``prometheus/tests/handwritten/*.yml``  the hand-written test files of ``alerts/tests/``

Every rule comes from the model; every alert carries its tests, and an alert without a firing and a
silent case stops the build (:func:`obs.alerting.require_tests`).
"""

from __future__ import annotations

import difflib
import importlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from obs import contract, links
from obs.alerting import (
    WATCHDOG,
    Alert,
    AlertTest,
    Fires,
    Series,
    Severity,
    component_alert,
    component_runbook_base,
    platform_runbook_base,
    require_tests,
    service_alert,
)
from obs.artifacts import Artifact, Outcome, RenderContext
from obs.errors import ModelError, PromQLError, RenderError, ToolNotFoundError
from obs.model import (
    SLO,
    Dependency,
    DependencyKind,
    Environment,
    LatencySLI,
    Platform,
    Service,
    parse_duration,
)
from obs.promql import Query
from obs.render import prometheus
from obs.slo import (
    SLICE_WINDOW,
    SLO_LABEL,
    SLOAlertWindow,
    SLORecording,
    alert_windows,
    recording_labels,
    recording_windows,
    recordings,
)
from obs.tools import available, run_tool

RULES_DIR = "prometheus/rules"
TESTS_DIR = "prometheus/tests"

DURATION = contract.HTTP_SERVER_DURATION.name
COUNT = f"{DURATION}_count"
BUCKET = f"{DURATION}_bucket"
SVC = contract.SERVICE_LABEL
TEAM = contract.TEAM_LABEL
STATUS = contract.STATUS_LABEL
ROUTE = contract.ROUTE_LABEL

#: Symptom thresholds that are policy, not model data; each has its reason.
HIGH_LATENCY_DEFAULT_SECONDS = 1.0  # p99 for services with no latency SLO: a page load that feels broken
POSTGRES_CONNECTIONS_RATIO = 0.8  # above this, a deploy's extra pool can exhaust max_connections
POSTGRES_LONG_TRANSACTION_SECONDS = 300  # long transactions hold locks and stop autovacuum
REDIS_MEMORY_RATIO = 0.9  # above this, Redis evicts or refuses writes (sessions, the bridge's queue)
TLS_EXPIRY_DAYS = 14  # two weeks: enough for a manual renewal when automation failed
FILESYSTEM_HORIZON_HOURS = 4  # predicted full within 4h: page, someone must act before it is full
#: ...and less than this fraction free already (node-mixin's critical rule): a large one-off write
#: on a mostly empty disk extrapolates to "full" too, and must not wake anyone.
FILESYSTEM_FREE_RATIO = 0.15
MEMORY_AVAILABLE_RATIO = 0.1  # below 10% available the kernel starts reclaiming hard / OOM-killing

TEST_MINUTES_MARGIN = 2
#: SLO tests evaluate rules every 5 minutes (input stays per minute): hours of burn-rate history
#: then take a fifth of the evaluations, and every window still holds five samples or more.
SLO_TEST_STEP_MINUTES = 5


# --- a rule file under construction -------------------------------------------------------------


@dataclass
class RuleFile:
    """One rules file: groups of recording rules and alerts, plus what the build must check."""

    name: str
    groups: list[dict[str, Any]] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    #: Other rule files the tests of this file need loaded (recordings the alerts read).
    needs: tuple[str, ...] = ()
    #: How often promtool evaluates the rules in this file's tests.
    test_step: str = "1m"
    #: promtool cases for the recordings themselves (``promql_expr_test``), beside the alert cases.
    expr_tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{RULES_DIR}/{self.name}.yml"

    def group(self, name: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        self.groups.append({"name": name, "rules": rules})
        return rules

    def record(
        self, rules: list[dict[str, Any]], name: str, expr: str, labels: Mapping[str, str], where: str
    ) -> None:
        rules.append({"record": name, "expr": expr, "labels": dict(labels)})
        self.records.append(name)
        self.queries.append(Query(expr, f"{where}: record {name}"))

    def alert(self, rules: list[dict[str, Any]], alert: Alert) -> None:
        require_tests(alert)
        rules.append(alert.rule())
        self.alerts.append(alert)
        self.queries.append(Query(alert.expr, alert.where, alert.declared))

    def artifact(self) -> Artifact:
        return Artifact(
            self.path,
            {"groups": self.groups},
            queries=tuple(self.queries),
            records=tuple(dict.fromkeys(self.records)),
        )


# --- input series for tests ---------------------------------------------------------------------


def _num(value: float) -> str:
    return format(value, ".12g")


def compress(values: Sequence[float]) -> str:
    """Values in promtool's expanding notation: runs with a constant step become ``a+bxn``."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i + 1
        step = values[j] - values[i] if j < len(values) else 0.0
        while j + 1 < len(values) and abs((values[j + 1] - values[j]) - step) < 1e-9:
            j += 1
        if j >= len(values):
            j = len(values) - 1
        count = j - i
        start, delta = values[i], (values[j] - values[i]) / count if count else 0.0
        if count == 0:
            parts.append(_num(start))
        elif abs(delta) < 1e-12:
            parts.append(f"{_num(start)}x{count}")
        else:
            sign = "+" if delta > 0 else "-"
            parts.append(f"{_num(start)}{sign}{_num(abs(delta))}x{count}")
        i = j + 1
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Signal:
    """A series whose value is ``good`` or ``bad`` each minute; a counter adds it instead."""

    selector: str
    good: float
    bad: float
    counter: bool = False

    def series(self, bad_minutes: Sequence[bool]) -> Series:
        values: list[float] = []
        total = 0.0
        for bad in bad_minutes:
            step = self.bad if bad else self.good
            if self.counter:
                values.append(total)
                total += step
            else:
                values.append(step)
        return Series(self.selector, compress(values))


def _minutes(duration: str) -> int:
    return max(1, parse_duration(duration) // 60)


def _every_minute(until: int) -> tuple[str, ...]:
    return tuple(f"{m}m" for m in range(until))


def case_eval_minute(for_: str, window_minutes: int = 0) -> int:
    """When :func:`threshold_cases` evaluates: ``for`` and the rate window have passed, with margin."""
    hold = _minutes(for_) if parse_duration(for_) else 0
    return hold + window_minutes + 2 * TEST_MINUTES_MARGIN


def threshold_cases(
    signals: Sequence[Signal],
    for_: str,
    fires: Fires,
    *,
    window_minutes: int = 0,
    extra: Sequence[Series] = (),
) -> tuple[AlertTest, ...]:
    """The three cases every threshold alert gets.

    * fires: bad from the start, evaluated after ``for`` (plus the rate window) has passed;
    * healthy: good all along, same evaluation time;
    * blip: bad for less than ``for``, then good; evaluated once the blip has left every window.

    ``window_minutes`` is the range of the rate/increase the expression reads: a counter burst keeps
    the condition true that long after it stops, so the blip is shortened by it.
    """
    hold = _minutes(for_) if parse_duration(for_) else 0
    eval_minute = case_eval_minute(for_, window_minutes)
    total = eval_minute + 1
    blip = max(1, hold - window_minutes - 1)
    plans = {
        "fires": [True] * total,
        "healthy": [False] * total,
        "blip shorter than for": [i < blip for i in range(total)],
    }
    cases = []
    for name, plan in plans.items():
        series = tuple(s.series(plan) for s in signals) + tuple(extra)
        expected = (fires,) if name == "fires" else ()
        # The blip case is checked at every minute, not only after it: without `for` the alert
        # would fire during the blip and be resolved again by the final evaluation.
        silent = _every_minute(eval_minute) if name.startswith("blip") else ()
        cases.append(
            AlertTest(name=name, series=series, eval_time=f"{eval_minute}m", fires=expected, silent_at=silent)
        )
    if hold == 0:
        # Without `for` there is no blip to ignore: the alert is meant to fire on one evaluation.
        cases = [c for c in cases if c.name != "blip shorter than for"]
    return tuple(cases)


# --- SLOs ---------------------------------------------------------------------------------------


def _matchers(service: Service, slo: SLO, *extra: str) -> str:
    parts = [f'{SVC}="{service.name}"', *extra]
    # One negative matcher per route: no regex, so route templates need no escaping.
    parts.extend(f'{ROUTE}!="{route}"' for route in slo.exclude_routes)
    return "{" + ", ".join(parts) + "}"


def _slo_selector(service: Service, slo: SLO) -> str:
    return f'{{{SVC}="{service.name}", {SLO_LABEL}="{slo.name}"}}'


def _budget(slo: SLO) -> float:
    # 1 - 0.999 is 0.0010000000000000009 in floating point; the rule should read 0.001.
    return round(slo.error_budget, 12)


def _slo_where(service: Service, slo: SLO) -> str:
    return f"services[{service.name}].slos[{slo.name}]"


#: The recorded names, from the SLO model (:class:`obs.slo.SLORecording`): the dashboards read them too.
TOTAL = SLORecording.SLI_TOTAL.series
GOOD = SLORecording.SLI_GOOD.series
ERROR = SLORecording.SLI_ERROR.series
BURN = SLORecording.BURN_RATE.series
ERRORS_5M = SLORecording.SLI_ERRORS.series()
OBJECTIVE = SLORecording.OBJECTIVE.series()
ERROR_BUDGET = SLORecording.ERROR_BUDGET.series()
TIME_PERIOD = SLORecording.TIME_PERIOD.series()
PERIOD_BURN = SLORecording.PERIOD_BURN_RATE.series()
PERIOD_REMAINING = SLORecording.PERIOD_BUDGET_REMAINING.series()


def slo_recordings(sli: RuleFile, meta: RuleFile, platform: Platform, service: Service, slo: SLO) -> None:
    """The SLI recordings of ``slo`` into ``sli``, its metadata into ``meta``: exactly the series
    :func:`obs.slo.recordings` lists, with its labels (a :class:`RenderError` otherwise)."""
    where = _slo_where(service, slo)
    labels = recording_labels(service, slo)
    sel = _slo_selector(service, slo)
    total = f"{COUNT}{_matchers(service, slo)}"
    five = SLICE_WINDOW
    if isinstance(slo.sli, LatencySLI):
        le_matcher = 'le="' + slo.sli.le + '"'
        good = f"{BUCKET}{_matchers(service, slo, le_matcher)}"
        bad_5m = f"sum(rate({total}[{five}])) - sum(rate({good}[{five}]))"
    else:
        status_matcher = STATUS + '=~"' + slo.sli.error_status_regex + '"'
        errors = f"{COUNT}{_matchers(service, slo, status_matcher)}"
        bad_5m = f"sum(rate({errors}[{five}])) or vector(0)"
    rules = sli.group(f"{platform.name}-slo-sli-{service.name}-{slo.name}")
    written = [rules]
    for window in recording_windows(slo):
        sli.record(rules, TOTAL(window), f"sum(rate({total}[{window}]))", labels, where)
        if isinstance(slo.sli, LatencySLI):
            sli.record(
                rules,
                GOOD(window),
                f"sum(rate({good}[{window}])) / sum(rate({total}[{window}]))",
                labels,
                where,
            )
            sli.record(rules, ERROR(window), f"1 - {GOOD(window)}{sel}", labels, where)
        else:
            # `or vector(0)`: a service that never failed has no 5xx series at all, and its error
            # ratio is 0, not absent (the budget panel would otherwise be empty).
            sli.record(
                rules,
                ERROR(window),
                f"(sum(rate({errors}[{window}])) or vector(0)) / sum(rate({total}[{window}]))",
                labels,
                where,
            )
        sli.record(rules, BURN(window), f"{ERROR(window)}{sel} / {_num(_budget(slo))}", labels, where)
    # The SLO-window ratio weighs every 5m slice by its traffic: bad events over all events. The
    # bad events are counted, not derived from the slice's ratio: a slice without requests has the
    # ratio 0/0 = NaN, and one NaN in sum_over_time would leave the whole window's figures NaN
    # for as long as the window (a quiet night hid the budget for 30 days).
    sli.record(rules, ERRORS_5M, bad_5m, labels, where)

    w = slo.window
    rules = meta.group(f"{platform.name}-slo-meta-{service.name}-{slo.name}")
    written.append(rules)
    meta.record(rules, OBJECTIVE, f"vector({_num(slo.objective)})", labels, where)
    meta.record(rules, ERROR_BUDGET, f"vector({_num(_budget(slo))})", labels, where)
    meta.record(rules, TIME_PERIOD, f"vector({slo.window_seconds // 86400})", labels, where)
    meta.record(
        rules,
        ERROR(w),
        f"sum_over_time({ERRORS_5M}{sel}[{w}]) / sum_over_time({TOTAL(five)}{sel}[{w}])",
        labels,
        where,
    )
    meta.record(rules, PERIOD_BURN, f"{ERROR(w)}{sel} / {_num(_budget(slo))}", labels, where)
    meta.record(rules, PERIOD_REMAINING, f"1 - {PERIOD_BURN}{sel}", labels, where)
    _check_recorded(
        where, {r["record"]: r["labels"] for group in written for r in group}, recordings(service, slo)
    )


def _check_recorded(
    where: str, recorded: Mapping[str, Mapping[str, str]], listed: Mapping[str, Mapping[str, str]]
) -> None:
    """The rules of one SLO record what :func:`obs.slo.recordings` lists, which is what the
    dashboards read: a rule renamed or dropped here alone would leave a panel empty."""
    for name in recorded:
        if name not in listed:
            close = difflib.get_close_matches(name, sorted(set(listed) - set(recorded)), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RenderError(
                f"rules: {where}: records {name!r}, which obs.slo.recordings does not list{hint} "
                "(name recordings through obs.slo.SLORecording: the dashboards read them from there)"
            )
        if dict(recorded[name]) != dict(listed[name]):
            raise RenderError(
                f"rules: {where}: records {name!r} with the labels {dict(recorded[name])}, "
                f"not {dict(listed[name])} as obs.slo.recording_labels says"
            )
    missing = [name for name in listed if name not in recorded]
    if missing:
        raise RenderError(
            f"rules: {where}: obs.slo.recordings lists {', '.join(map(repr, missing))}, which the rules "
            "do not record (the dashboards would read an empty series)"
        )


def recording_test(service: Service, slo: SLO) -> dict[str, Any]:
    """A promtool case for the recordings: half the budget burning for 30 minutes leaves half of
    it, and every ratio says so."""
    burn, minutes = 0.5, 30
    budget = _budget(slo)
    expected = {
        OBJECTIVE: slo.objective,
        ERROR_BUDGET: budget,
        TIME_PERIOD: slo.window_seconds // 86400,
        TOTAL("5m"): 10.0,
        ERROR("1h"): burn * budget,
        BURN("5m"): burn,
        BURN("1h"): burn,
        ERROR(slo.window): burn * budget,
        PERIOD_BURN: burn,
        PERIOD_REMAINING: 1 - burn,
    }
    if isinstance(slo.sli, LatencySLI):
        expected[GOOD("30m")] = 1 - burn * budget
    return _recordings_case(
        service,
        slo,
        "half the budget burning leaves half of it",
        _slo_series(service, slo, [burn] * minutes, 10.0),
        minutes,
        expected,
    )


def quiet_recording_test(service: Service, slo: SLO) -> dict[str, Any]:
    """A promtool case for the SLO-window recordings: 15 minutes without a request, then healthy
    traffic, leave the whole budget (a slice without requests adds no bad events, not NaN)."""
    quiet, minutes = 15, 45
    return _recordings_case(
        service,
        slo,
        "a quiet stretch leaves the whole budget",
        _slo_series(service, slo, [0.0] * (minutes - quiet), 10.0, quiet_minutes=quiet),
        minutes,
        {ERROR(slo.window): 0.0, PERIOD_BURN: 0.0, PERIOD_REMAINING: 1.0},
    )


def _recordings_case(
    service: Service, slo: SLO, what: str, series: Sequence[Series], minutes: int, expected: Mapping[str, float]
) -> dict[str, Any]:
    """A promtool case: after ``minutes`` of ``series``, each recording reads its expected value."""
    labels = f'{{{SVC}="{service.name}", {SLO_LABEL}="{slo.name}", {TEAM}="{service.team}"}}'
    return {
        "name": f"recordings [{service.name}/{slo.name}]: {what}",
        "interval": "1m",
        "input_series": [{"series": x.selector, "values": x.values} for x in series],
        "promql_expr_test": [
            {
                # promtool 2.42 compares floats exactly; 1 means "equal within 1e-9".
                "expr": f"abs({name}{_slo_selector(service, slo)} - {_num(value)}) < bool 1e-9",
                "eval_time": f"{minutes}m",
                "exp_samples": [{"labels": labels, "value": 1}],
            }
            for name, value in expected.items()
        ],
    }


def _slo_alert(platform: Platform, service: Service, slo: SLO, window: SLOAlertWindow) -> Alert:
    sel = _slo_selector(service, slo)
    long_w, short_w = window.long_window, window.short_window
    factor = _num(window.factor)
    expr = (
        f"{BURN(long_w)}{sel} > {factor}\n"
        f"and on ({SVC}, {SLO_LABEL}) {BURN(short_w)}{sel} > {factor}\n"
        # Low-traffic guard: a handful of requests (3 in an hour, 1 failed) must not page.
        f"and on ({SVC}, {SLO_LABEL}) {TOTAL(long_w)}{sel} >= {_num(slo.min_request_rate)}"
    )
    what = (
        "answered without a server error"
        if not isinstance(slo.sli, LatencySLI)
        else f"answered within {slo.sli.threshold_seconds:g}s"
    )
    name = "ErrorBudgetBurn"
    return Alert(
        name=name,
        expr=expr,
        severity=Severity(window.severity),
        service=service.name,
        team=service.team,
        summary=f'{service.name} is burning its {slo.name} error budget {{{{ printf "%.1f" $value }}}}x too fast',
        description=(
            f"{slo.objective * 100:.6g}% of {service.name} requests must be {what} over {slo.window}. "
            f'Over the last {long_w} (and still over the last {short_w}) the error budget burned {{{{ printf "%.1f" $value }}}} times '
            f"faster than sustainable; above {factor}x, {window.row.budget_percent:g}% of the {slo.window} budget is gone within {long_w}."
        ),
        runbook_url=f"{component_runbook_base(platform, service).rstrip('/')}#{name.lower()}",
        dashboard_url=links.dashboard_url(
            platform.grafana_url,
            links.SLO_UID,
            links.SLOPanel.BURN_RATE_WINDOWS,
            service=service.name,
            slo=slo.name,
        ),
        for_=window.for_,
        labels={
            SLO_LABEL: slo.name,
            "slo_window": slo.window,
            "long_window": long_w,
            "short_window": short_w,
        },
        source=_slo_where(service, slo),
    )


def _slo_series(
    service: Service, slo: SLO, burns: Sequence[float], rps: float, quiet_minutes: int = 0
) -> tuple[Series, ...]:
    """Traffic at ``rps`` requests per second; during minute ``m`` (from m to m+1) bad requests
    burn the budget at ``burns[m]`` times the sustainable rate. The first ``quiet_minutes`` (before
    those) have no request at all: every counter stays where it is."""
    per_minute = rps * 60
    budget = _budget(slo)
    route = f'{ROUTE}="/slo-probe"'
    base = f'{SVC}="{service.name}", {TEAM}="{service.team}", job="{service.name}", instance="{service.name}:{service.port}", http_request_method="GET", {route}'

    def counter(step: Callable[[float], float]) -> str:
        values, total = [0.0] * (1 + quiet_minutes), 0.0
        for burn in burns:
            total += step(burn)
            values.append(total)
        return compress(values)

    good = counter(lambda b: per_minute * (1 - budget * b))
    if isinstance(slo.sli, LatencySLI):
        le = slo.sli.le
        return (
            Series(f'{BUCKET}{{{base}, {STATUS}="200", le="{le}"}}', good),
            Series(f'{BUCKET}{{{base}, {STATUS}="200", le="+Inf"}}', counter(lambda b: per_minute)),
            Series(f'{COUNT}{{{base}, {STATUS}="200"}}', counter(lambda b: per_minute)),
        )
    return (
        Series(f'{COUNT}{{{base}, {STATUS}="200"}}', good),
        Series(f'{COUNT}{{{base}, {STATUS}="500"}}', counter(lambda b: per_minute * budget * b)),
    )


def _window_burn(burns: Sequence[float], at: int, window_minutes: int) -> float:
    """The burn rate a recording reads at minute ``at`` over a window: with per-minute samples and
    the same traffic every minute, the mean of the minutes inside it (promtool's range selectors
    include both ends, and extrapolation scales errors and total alike)."""
    inside = burns[max(0, at - window_minutes) : at]
    return sum(inside) / len(inside)


def _expected(
    pairs: Sequence[tuple[SLOAlertWindow, Alert]], burns: Sequence[float], eval_minute: int, step: int
) -> tuple[Fires, ...]:
    """Which burn-rate alerts fire at ``eval_minute``: the rule conditions and ``for`` replayed
    over the evaluations a promtool test makes (every ``step`` minutes, from 0)."""
    firing: list[Fires] = []
    for window, alert in pairs:
        long_m, short_m, hold = (
            _minutes(window.long_window),
            _minutes(window.short_window),
            _minutes(window.for_),
        )
        active_since: int | None = None
        for at in range(0, eval_minute + 1, step):
            # Rates need two samples: nothing is active at minute 0. The traffic of every test
            # clears the low-traffic guard, except the low-traffic case, which has no burst to show.
            active = (
                at > 0
                and _window_burn(burns, at, long_m) > window.factor
                and _window_burn(burns, at, short_m) > window.factor
            )
            active_since = (active_since if active_since is not None else at) if active else None
        if active_since is not None and eval_minute - active_since >= hold:
            firing.append(Fires(value=_window_burn(burns, eval_minute, long_m), alert=alert))
    return tuple(firing)


def slo_alerts(platform: Platform, service: Service, slo: SLO) -> list[Alert]:
    # A window whose factor exceeds 1/budget cannot fire even at 100% errors (a 90% SLO burns at
    # most 10x): it is left out rather than rendered as an alert that can never fire.
    max_burn = 1 / _budget(slo)
    windows = tuple(w for w in alert_windows(slo, where=f"services[{service.name}].") if w.factor < max_burn)
    pairs = [(w, _slo_alert(platform, service, slo, w)) for w in windows]
    step = SLO_TEST_STEP_MINUTES
    # The low-traffic guard counts requests over the long window, and a test starts with no history:
    # this rate clears it for the longest window from the first evaluation on.
    longest = max(parse_duration(w.long_window) for w in windows)
    rps = max(10.0, slo.min_request_rate * longest / 60 * 2)
    factors = sorted({w.factor for w in windows})
    healthy = 0.1

    def burn_above(factor: float) -> float:
        # Between this factor and the next one up, rounded to keep printf "%.1f" away from ties.
        higher = min([f for f in factors if f > factor] + [factor * 1.5, max_burn])
        return round((factor + higher) / 2, 1)

    def steps(minutes: int) -> int:
        return -(-minutes // step) * step

    def case(name: str, burns: list[float], traffic: float = rps) -> AlertTest:
        at = len(burns)
        fires = _expected(pairs, burns, at, step) if traffic == rps else ()
        return AlertTest(
            name=name, series=_slo_series(service, slo, burns, traffic), eval_time=f"{at}m", fires=fires
        )

    quiet_at = max(steps(_minutes(w.for_)) + step for w in windows)
    common = [case("healthy traffic: errors at a tenth of the budget", [healthy] * quiet_at)]
    if slo.min_request_rate > 0:
        common.append(
            case(
                f"low traffic: every window burning, but under {_num(slo.min_request_rate)} requests/s",
                [burn_above(max(factors))] * quiet_at,
                traffic=slo.min_request_rate / 2,
            )
        )
    alerts: list[Alert] = []
    for window, alert in pairs:
        long_m, short_m, hold = (
            _minutes(window.long_window),
            _minutes(window.short_window),
            _minutes(window.for_),
        )
        burn = burn_above(window.factor)
        cases = [
            # Active from the first evaluation after minute 0, firing once `for` has elapsed.
            case(
                f"burning {burn}x fires the {window.long_window}/{window.short_window} window",
                [burn] * (steps(hold) + step),
            ),
            case(
                f"burning {burn}x for less than {window.for_} is still pending",
                [burn] * max(step, hold // step * step),
            ),
        ]
        if long_m <= 6 * 60:
            # The two halves of the condition, each on its own; only for the page windows, whose
            # hours of history stay cheap to replay (the ticket windows would need days).
            recovery = steps(short_m) + 2 * step
            strong = min(max_burn, window.factor * long_m / (long_m - recovery) * 1.3)
            if strong > window.factor * long_m / (long_m - recovery):
                cases.append(
                    case(
                        f"stopped burning {window.short_window} ago: the short window resets the alert",
                        [strong] * long_m + [healthy] * recovery,
                    )
                )
            burst = steps(hold + short_m) + step
            spike = (0.75 * window.factor * long_m - healthy * (long_m - burst)) / burst
            if window.factor * 1.2 < spike <= max_burn:
                cases.append(
                    case(
                        f"a {burst}m burst at {_num(round(spike, 1))}x leaves the {window.long_window} window under {_num(window.factor)}x",
                        [healthy] * (long_m - burst) + [round(spike, 1)] * burst,
                    )
                )
        alerts.append(alert.with_tests(*cases, *common))
    return alerts


# --- services -----------------------------------------------------------------------------------


def _latency_slo(service: Service) -> SLO | None:
    """The latency SLO whose threshold the p99 alert uses: the loosest, if there are several."""
    slos = [s for s in service.slos if isinstance(s.sli, LatencySLI)]
    return max(slos, key=lambda s: s.sli.threshold_seconds) if slos else None  # type: ignore[union-attr]


def _bucket_above(threshold: float) -> tuple[float, float]:
    """The histogram bucket (lower, upper] just above ``threshold``, to build slow requests."""
    bounds = list(contract.HTTP_DURATION_BUCKETS)
    i = (
        bounds.index(threshold)
        if threshold in bounds
        else max(0, len([b for b in bounds if b < threshold]) - 1)
    )
    return bounds[i + 1], bounds[i + 2]


def latency_alert(platform: Platform, service: Service) -> Alert:
    slo = _latency_slo(service)
    threshold = float(slo.sli.threshold_seconds) if slo is not None else HIGH_LATENCY_DEFAULT_SECONDS  # type: ignore[union-attr]
    name = "LatencyP99High"
    # The routes the latency SLO leaves out (a report export, slow by design) are left out here
    # too: otherwise they raise this ticket while the SLO they were excluded from is healthy.
    selector = _matchers(service, slo) if slo is not None else f'{{{SVC}="{service.name}"}}'
    expr = f"histogram_quantile(0.99, sum by (le) (rate({BUCKET}{selector}[5m]))) > {_num(threshold)}"
    base = f'{SVC}="{service.name}", job="{service.name}", {STATUS}="200"'
    lower, upper = _bucket_above(threshold)
    fast_le = contract.HTTP_DURATION_BUCKETS[0]
    per_minute = 600.0
    # Slow minutes put every request in (lower, upper]; fast ones in the first bucket.
    signals = [
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(fast_le)}"}}', per_minute, 0.0, counter=True),
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(lower)}"}}', per_minute, 0.0, counter=True),
        Signal(
            f'{BUCKET}{{{base}, le="{contract.format_bucket(upper)}"}}', per_minute, per_minute, counter=True
        ),
        Signal(f'{BUCKET}{{{base}, le="+Inf"}}', per_minute, per_minute, counter=True),
    ]
    p99 = lower + (upper - lower) * 0.99
    alert = service_alert(
        platform,
        service,
        name=name,
        expr=expr,
        severity=Severity.TICKET,
        summary=f"{service.name} p99 latency is {{{{ $value | humanizeDuration }}}}",
        description=(
            f"99% of {service.name} requests over the last 5m finished within {{{{ $value | humanizeDuration }}}}, "
            f"above {threshold:g}s for 10m. Check the slowest routes panel and the traces of slow requests."
        ),
        panel=links.ServicePanel.LATENCY_PERCENTILES,
        for_="10m",
    )
    cases = list(threshold_cases(signals, alert.for_, Fires(value=p99), window_minutes=5))
    if slo is not None and slo.exclude_routes:
        # Half the requests slow, all on the excluded route: p99 over everything would fire.
        minutes = 40
        slow, fast = f'{base}, {ROUTE}="{slo.exclude_routes[0]}"', f'{base}, {ROUTE}="/slo-probe"'
        steady, idle = f"0+{_num(per_minute)}x{minutes}", f"0x{minutes}"
        bounds = [contract.format_bucket(b) for b in (fast_le, lower, upper)] + ["+Inf"]
        cases.append(
            AlertTest(
                "healthy: the slow requests are on a route the latency SLO leaves out",
                tuple(
                    Series(f'{BUCKET}{{{labels}, le="{le}"}}', values)
                    for le, slow_values in zip(bounds, (idle, idle, steady, steady), strict=True)
                    for labels, values in ((fast, steady), (slow, slow_values))
                ),
                f"{minutes}m",
            )
        )
    return alert.with_tests(*cases)


def instrumentation_alert(platform: Platform, service: Service) -> Alert:
    name = "InstrumentationMissing"
    # target_info is exported from instrument() on, before any request: an idle service (a quiet
    # night, a bridge nobody called since its restart) has it and no request series yet.
    info = contract.TARGET_INFO.name
    expr = (
        f'up{{job="{service.name}"}} == 1\nunless on (job, instance) group by (job, instance) '
        f'({COUNT}{{job="{service.name}"}} or {info}{{job="{service.name}"}})'
    )
    instance = f"{service.name}:{service.port}"
    up = Series(
        f'up{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {TEAM}="{service.team}"}}',
        "1x60",
    )
    alert = service_alert(
        platform,
        service,
        name=name,
        expr=expr,
        severity=Severity.TICKET,
        summary=f"{service.name} on {{{{$labels.instance}}}} is up but exports no HTTP metrics",
        description=(
            f"Prometheus scrapes {{{{$labels.instance}}}} but finds neither {info} nor {DURATION} series: the obs instrumentation "
            f'is not installed or not reached, so the SLOs of {service.name} are blind. Call instrumentation.instrument(app, service_name="{service.name}").'
        ),
        panel=links.ServicePanel.TARGET_UP,
        for_="30m",
    )
    req = f'{COUNT}{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {STATUS}="200"}}'
    return alert.with_tests(
        AlertTest(
            "up without HTTP metrics for 40m",
            (up,),
            "40m",
            fires=(Fires(value=1, labels={"job": service.name, "instance": instance}),),
        ),
        AlertTest("healthy: up and counting requests", (up, Series(req, "0+60x60")), "40m"),
        AlertTest(
            "healthy: instrumented, idle since its start (no request series yet)",
            (
                up,
                Series(
                    f'{info}{{job="{service.name}", instance="{instance}", service_name="{service.name}", '
                    f'service_version="1.0.0", deployment_environment="prod"}}',
                    "1x60",
                ),
            ),
            "40m",
        ),
        AlertTest(
            "blip: no requests yet for the first 10m after a restart",
            (up, Series(req, "_x9 0+60x50")),
            "40m",
            silent_at=_every_minute(40),
        ),
    )


# --- scrape targets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    service: str
    team: str
    instance: str
    runbook_base: str


def scrape_jobs(platform: Platform, env: Environment) -> list[Job]:
    """The jobs of the rendered Prometheus configuration, with the service and team its targets
    carry; read from :mod:`obs.render.prometheus` so the alerts follow any change there."""
    components = {c.name: c for c in platform.components()}
    jobs: list[Job] = []
    for job in prometheus.scrape_jobs(platform, env):
        configs = job["static_configs"]
        services = {c["labels"][SVC] for c in configs}
        name = job["job_name"]
        if len(services) == 1:
            service, team = configs[0]["labels"][SVC], configs[0]["labels"][TEAM]
        else:
            # One job for many targets (the blackbox probes): the job itself belongs to the infra team.
            service, team = name, platform.infra_team
        comp = components.get(service)
        base = component_runbook_base(platform, comp) if comp else platform_runbook_base(platform, service)
        jobs.append(Job(name, service, team, configs[0]["targets"][0], base))
    return jobs


def _up_labels(job: Job) -> str:
    return f'job="{job.name}", instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'


def target_alerts(platform: Platform, job: Job, jobs: Sequence[Job]) -> list[Alert]:
    up_labels = _up_labels(job)
    down = component_alert(
        platform,
        name="TargetDown",
        expr=f'up{{job="{job.name}"}} == 0',
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary=f"{job.name} target {{{{$labels.instance}}}} is down",
        description=f"Prometheus could not scrape {{{{$labels.instance}}}} of job {job.name} for 5m: its alerts are blind and it may be down.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_DOWN,
        runbook_base=job.runbook_base,
    ).with_tests(
        *threshold_cases(
            [Signal(f"up{{{up_labels}}}", 1, 0)],
            "5m",
            Fires(value=0, labels={"job": job.name, "instance": job.instance}),
        )
    )
    absent = component_alert(
        platform,
        name="MetricsAbsent",
        expr=f'absent(up{{job="{job.name}"}})',
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary=f"Prometheus has no target for job {job.name}",
        description=f"No up series for job {job.name} for 10m: the target left service discovery or the scrape configuration, so nothing watches it.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_PER_JOB,
        runbook_base=job.runbook_base,
        for_="10m",
    )
    # Every other job is scraped, or its own MetricsAbsent would fire in this test too.
    others = tuple(Series(f"up{{{_up_labels(j)}}}", "1x30") for j in jobs if j.name != job.name)
    present = f"up{{{up_labels}}}"
    absent = absent.with_tests(
        AlertTest("no up series for 20m", others, "20m", fires=(Fires(value=1, labels={"job": job.name}),)),
        AlertTest("healthy: the target is scraped", (*others, Series(present, "1x30")), "20m"),
        AlertTest(
            "blip: missing for the first 5m after a reload",
            (*others, Series(present, "_x4 1x25")),
            "20m",
            silent_at=_every_minute(20),
        ),
    )
    return [down, absent]


# --- dependencies -------------------------------------------------------------------------------


def _dep(platform: Platform, dep: Dependency, name: str, **kwargs: Any) -> Alert:
    # The PostgreSQL and Redis dashboards select the database by its `service` variable.
    return component_alert(
        platform,
        name=name,
        service=dep.name,
        team=dep.team,
        runbook_base=component_runbook_base(platform, dep),
        variables={SVC: dep.name},
        **kwargs,
    )


def _exporter_down(platform: Platform, dep: Dependency, name: str, up_metric: str, **kwargs: Any) -> Alert:
    """The page when a dependency's exporter reports it unreachable (``<x>_up == 0`` for 2m), with its tests."""
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    down = _dep(platform, dep, name, expr=f"{up_metric}{{{job}}} == 0", severity=Severity.PAGE, for_="2m", **kwargs)
    return down.with_tests(
        *threshold_cases(
            [Signal(f"{up_metric}{{{lab}}}", 1, 0)],
            down.for_,
            Fires(value=0, labels={"job": dep.name, "instance": inst}),
        )
    )


def postgres_alerts(platform: Platform, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.POSTGRES_UID
    down = _exporter_down(
        platform,
        dep,
        "PostgresDown",
        "pg_up",
        summary=f"PostgreSQL {dep.name} is down",
        description=f"postgres_exporter on {{{{$labels.instance}}}} cannot connect to {dep.name} ({dep.address}) for 2m: every service using it fails.",
        dashboard_uid=uid,
        panel=links.PostgresPanel.UP,
    )
    max_conn = 100.0
    conns = _dep(
        platform,
        dep,
        "PostgresTooManyConnections",
        expr=(
            f"sum by (instance) (pg_stat_database_numbackends{{{job}}})\n"
            f"/ max by (instance) (pg_settings_max_connections{{{job}}}) > {_num(POSTGRES_CONNECTIONS_RATIO)}"
        ),
        severity=Severity.TICKET,
        summary=f"PostgreSQL {dep.name} uses {{{{ $value | humanizePercentage }}}} of max_connections",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of max_connections on {{{{$labels.instance}}}} are in use for 5m "
            f"(threshold {POSTGRES_CONNECTIONS_RATIO:.0%}); new connections will soon be refused. Look for leaking pools."
        ),
        dashboard_uid=uid,
        panel=links.PostgresPanel.CONNECTIONS,
        for_="5m",
    )
    conns = conns.with_tests(
        *threshold_cases(
            [Signal(f'pg_stat_database_numbackends{{{lab}, datname="app"}}', 20, 90)],
            conns.for_,
            Fires(value=0.9, labels={"instance": inst}),
            extra=[Series(f"pg_settings_max_connections{{{lab}}}", f"{_num(max_conn)}x60")],
        )
    )
    deadlocks = _dep(
        platform,
        dep,
        "PostgresDeadlocks",
        expr=f"sum by (instance, datname) (increase(pg_stat_database_deadlocks{{{job}}}[5m])) > 0",
        severity=Severity.TICKET,
        summary=f"PostgreSQL {dep.name} database {{{{$labels.datname}}}} keeps deadlocking",
        description=(
            "{{ $value | humanize }} deadlocks in the last 5m on {{$labels.datname}} ({{$labels.instance}}), "
            "and deadlocks every 5m for 10m: two code paths lock rows in opposite orders."
        ),
        dashboard_uid=uid,
        panel=links.PostgresPanel.DEADLOCKS,
        for_="10m",
    )
    deadlocks = deadlocks.with_tests(
        *threshold_cases(
            [Signal(f'pg_stat_database_deadlocks{{{lab}, datname="app"}}', 0, 1, counter=True)],
            deadlocks.for_,
            Fires(value=5, labels={"instance": inst, "datname": "app"}),
            window_minutes=5,
        )
    )
    longtx = _dep(
        platform,
        dep,
        "PostgresLongRunningTransaction",
        expr=f"max by (instance, datname) (pg_stat_activity_max_tx_duration{{{job}}}) > {POSTGRES_LONG_TRANSACTION_SECONDS}",
        severity=Severity.TICKET,
        summary=f"PostgreSQL {dep.name}: a transaction on {{{{$labels.datname}}}} has run for {{{{ $value | humanizeDuration }}}}",
        description=(
            f"The longest transaction on {{{{$labels.datname}}}} ({{{{$labels.instance}}}}) has been open for {{{{ $value | humanizeDuration }}}} "
            f"(threshold {POSTGRES_LONG_TRANSACTION_SECONDS // 60}m): it holds locks and blocks vacuum."
        ),
        dashboard_uid=uid,
        panel=links.PostgresPanel.LONGEST_TRANSACTION,
        for_="5m",
    )
    longtx = longtx.with_tests(
        *threshold_cases(
            [Signal(f'pg_stat_activity_max_tx_duration{{{lab}, datname="app", state="active"}}', 2, 900)],
            longtx.for_,
            Fires(value=900, labels={"instance": inst, "datname": "app"}),
        )
    )
    return [down, conns, deadlocks, longtx]


def redis_alerts(platform: Platform, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.REDIS_UID
    down = _exporter_down(
        platform,
        dep,
        "RedisDown",
        "redis_up",
        summary=f"Redis {dep.name} is down",
        description=f"redis_exporter on {{{{$labels.instance}}}} cannot reach {dep.name} ({dep.address}) for 2m: sessions and queues are gone.",
        dashboard_uid=uid,
        panel=links.RedisPanel.UP,
    )
    gib = 1024.0**3
    memory = _dep(
        platform,
        dep,
        "RedisMemoryHigh",
        # `> 0` on maxmemory: 0 means unlimited, and a ratio to it means nothing.
        expr=f"redis_memory_used_bytes{{{job}}}\n/ (redis_memory_max_bytes{{{job}}} > 0) > {_num(REDIS_MEMORY_RATIO)}",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} uses {{{{ $value | humanizePercentage }}}} of maxmemory",
        description=(
            f"{dep.name} on {{{{$labels.instance}}}} has used {{{{ $value | humanizePercentage }}}} of maxmemory for 5m "
            f"(threshold {REDIS_MEMORY_RATIO:.0%}): it will evict keys or refuse writes."
        ),
        dashboard_uid=uid,
        panel=links.RedisPanel.MEMORY,
        for_="5m",
    )
    memory = memory.with_tests(
        *threshold_cases(
            [Signal(f"redis_memory_used_bytes{{{lab}}}", 0.5 * gib, 0.95 * gib)],
            memory.for_,
            Fires(value=0.95, labels={"job": dep.name, "instance": inst}),
            extra=[Series(f"redis_memory_max_bytes{{{lab}}}", f"{_num(gib)}x60")],
        ),
        AlertTest(
            "maxmemory 0 (unlimited) never alerts",
            (
                Series(f"redis_memory_used_bytes{{{lab}}}", f"{_num(0.95 * gib)}x20"),
                Series(f"redis_memory_max_bytes{{{lab}}}", "0x20"),
            ),
            "15m",
        ),
    )
    evictions = _dep(
        platform,
        dep,
        "RedisEvictions",
        expr=f"increase(redis_evicted_keys_total{{{job}}}[5m]) > 0",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} evicts keys",
        description=f"{dep.name} evicted {{{{ $value | humanize }}}} keys in the last 5m, and kept evicting for 10m: it is full, and sessions or queued jobs may be lost.",
        dashboard_uid=uid,
        panel=links.RedisPanel.EVICTIONS,
        for_="10m",
    )
    evictions = evictions.with_tests(
        *threshold_cases(
            [Signal(f"redis_evicted_keys_total{{{lab}}}", 0, 10, counter=True)],
            evictions.for_,
            Fires(value=50, labels={"job": dep.name, "instance": inst}),
            window_minutes=5,
        )
    )
    rejected = _dep(
        platform,
        dep,
        "RedisRejectedConnections",
        expr=f"increase(redis_rejected_connections_total{{{job}}}[5m]) > 0",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} rejects connections",
        description=f"{dep.name} rejected {{{{ $value | humanize }}}} connections in the last 5m (maxclients reached), for 5m: clients see errors.",
        dashboard_uid=uid,
        panel=links.RedisPanel.REJECTED_CONNECTIONS,
        for_="5m",
    )
    rejected = rejected.with_tests(
        *threshold_cases(
            [Signal(f"redis_rejected_connections_total{{{lab}}}", 0, 2, counter=True)],
            rejected.for_,
            Fires(value=10, labels={"job": dep.name, "instance": inst}),
            window_minutes=5,
        )
    )
    return [down, memory, evictions, rejected]


# --- node, probes, self-monitoring --------------------------------------------------------------


def node_alerts(platform: Platform, job: Job) -> list[Alert]:
    sel = f'job="{job.name}"'
    lab = f'{sel}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'
    fs = f'{lab}, device="/dev/sda1", fstype="ext4", mountpoint="/"'
    gib = 1024.0**3
    horizon = FILESYSTEM_HORIZON_HOURS * 3600
    real_fs = 'fstype!~"tmpfs|overlay|squashfs"'
    filling = component_alert(
        platform,
        name="NodeFilesystemFillingUp",
        expr=(
            f"predict_linear(node_filesystem_avail_bytes{{{sel}, {real_fs}}}[1h], {horizon}) < 0\n"
            f"and on (instance, device, mountpoint) node_filesystem_avail_bytes{{{sel}, {real_fs}}}"
            f" / node_filesystem_size_bytes{{{sel}, {real_fs}}} < {_num(FILESYSTEM_FREE_RATIO)}\n"
            f"and on (instance, device, mountpoint) node_filesystem_readonly{{{sel}}} == 0"
        ),
        severity=Severity.PAGE,
        service=job.service,
        team=job.team,
        summary="{{$labels.mountpoint}} on {{$labels.instance}} fills up within "
        + f"{FILESYSTEM_HORIZON_HOURS}h",
        description=(
            f"At the rate of the last hour, {{{{$labels.mountpoint}}}} ({{{{$labels.device}}}}) on {{{{$labels.instance}}}} "
            f"is full within {FILESYSTEM_HORIZON_HOURS}h (predicted {{{{ $value | humanize1024 }}}}B free then), with less than "
            f"{FILESYSTEM_FREE_RATIO:.0%} free already. Databases and logs stop writing when it is full."
        ),
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.FILESYSTEM,
        runbook_base=job.runbook_base,
        for_="15m",
        variables={"instance": "{{$labels.instance}}"},
    )
    # 1 GiB per minute down from 100 GiB: predict_linear over 4h is exact for a straight line.
    minutes = 15 + 60 + 2 * TEST_MINUTES_MARGIN
    avail_bad = [100 * gib - i * gib for i in range(minutes + 1)]
    predicted = avail_bad[minutes] - 240 * gib
    ro = Series(f"node_filesystem_readonly{{{fs}}}", f"0x{minutes}")
    size = Series(f"node_filesystem_size_bytes{{{fs}}}", f"{_num(1024 * gib)}x{minutes}")  # 1 TiB
    fire_labels = {
        "job": job.name,
        "instance": job.instance,
        "device": "/dev/sda1",
        "fstype": "ext4",
        "mountpoint": "/",
    }
    filling = filling.with_tests(
        AlertTest(
            "losing 1GiB a minute from 100GiB of 1TiB",
            (Series(f"node_filesystem_avail_bytes{{{fs}}}", compress(avail_bad)), size, ro),
            f"{minutes}m",
            fires=(Fires(value=predicted, labels=fire_labels),),
        ),
        AlertTest(
            "healthy: steady free space",
            (Series(f"node_filesystem_avail_bytes{{{fs}}}", f"{_num(100 * gib)}x{minutes}"), size, ro),
            f"{minutes}m",
        ),
        AlertTest(
            "healthy: a big write (3GiB a minute) on a disk still more than 15% free",
            (
                Series(
                    f"node_filesystem_avail_bytes{{{fs}}}",
                    compress([600 * gib - i * 3 * gib for i in range(minutes + 1)]),
                ),
                size,
                ro,
            ),
            f"{minutes}m",
        ),
        AlertTest(
            "blip: a 10m burst of writes, then steady",
            (
                Series(
                    f"node_filesystem_avail_bytes{{{fs}}}",
                    compress(
                        [100 * gib] * 60
                        + [100 * gib - i * 3 * gib for i in range(1, 11)]
                        + [70 * gib] * (minutes - 69)
                    ),
                ),
                size,
                ro,
            ),
            f"{minutes}m",
        ),
    )
    memory = component_alert(
        platform,
        name="NodeMemoryPressure",
        expr=f"node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}} < {_num(MEMORY_AVAILABLE_RATIO)}",
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary="{{$labels.instance}} has only {{ $value | humanizePercentage }} of its memory available",
        description=f"Available memory on {{{{$labels.instance}}}} has been {{{{ $value | humanizePercentage }}}} for 15m (threshold {MEMORY_AVAILABLE_RATIO:.0%}): the OOM killer is next.",
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.MEMORY,
        runbook_base=job.runbook_base,
        for_="15m",
        variables={"instance": "{{$labels.instance}}"},
    )
    memory = memory.with_tests(
        *threshold_cases(
            [Signal(f"node_memory_MemAvailable_bytes{{{lab}}}", 8 * gib, 0.8 * gib)],
            memory.for_,
            Fires(
                value=0.05,
                labels={"job": job.name, "instance": job.instance, SVC: job.service, TEAM: job.team},
            ),
            extra=[Series(f"node_memory_MemTotal_bytes{{{lab}}}", f"{_num(16 * gib)}x60")],
        )
    )
    return [filling, memory]


def probe_alerts(platform: Platform, env: Environment, job: Job) -> list[Alert]:
    alerts: list[Alert] = []
    targets: list[tuple[Service | Dependency, str]] = [
        (s, platform.probe_url(s, env)) for s in platform.probed_services
    ]
    targets += [(d, d.address) for d in platform.dependencies if d.kind is DependencyKind.HTTP]
    for comp, url in targets:
        sel = f'job="{job.name}", {SVC}="{comp.name}"'
        lab = f'{sel}, instance="{url}", {TEAM}="{comp.team}"'
        tier1 = isinstance(comp, Service) and comp.tier == 1
        failing = _dep_like(
            platform,
            comp,
            "ProbeFailing",
            expr=f"probe_success{{{sel}}} == 0",
            severity=Severity.PAGE if tier1 else Severity.TICKET,
            summary=f"{comp.name} does not answer at {{{{$labels.instance}}}}",
            description=f"The blackbox probe of {comp.name} ({{{{$labels.instance}}}}) has failed for 3m: users cannot reach it.",
            dashboard_uid=links.BLACKBOX_UID,
            panel=links.BlackboxPanel.PROBE_SUCCESS,
            for_="3m",
            variables={SVC: comp.name},
        )
        alerts.append(
            failing.with_tests(
                *threshold_cases(
                    [Signal(f"probe_success{{{lab}}}", 1, 0)],
                    failing.for_,
                    Fires(value=0, labels={"job": job.name, "instance": url}),
                )
            )
        )
        if not url.startswith("https://"):
            continue  # no certificate to expire (the dev environment probes plain HTTP)
        horizon = TLS_EXPIRY_DAYS * 86400
        tls = _dep_like(
            platform,
            comp,
            "TLSCertificateExpiring",
            expr=f"probe_ssl_earliest_cert_expiry{{{sel}}} - time() < {horizon}",
            severity=Severity.TICKET,
            summary=f"The TLS certificate of {comp.name} expires in {{{{ $value | humanizeDuration }}}}",
            description=f"The certificate served at {{{{$labels.instance}}}} expires in {{{{ $value | humanizeDuration }}}} (under {TLS_EXPIRY_DAYS} days): automatic renewal has failed.",
            dashboard_uid=links.BLACKBOX_UID,
            panel=links.BlackboxPanel.TLS_EXPIRY,
            for_="15m",
            variables={SVC: comp.name},
        )
        eval_s = case_eval_minute(tls.for_) * 60
        week = 7 * 86400
        # Expiry is an absolute time: the bad value is 7 days after the evaluation time.
        signal = Signal(f"probe_ssl_earliest_cert_expiry{{{lab}}}", eval_s + 90 * 86400, eval_s + week)
        tls = tls.with_tests(
            *threshold_cases([signal], tls.for_, Fires(value=week, labels={"job": job.name, "instance": url}))
        )
        alerts.append(tls)
    return alerts


def _dep_like(platform: Platform, comp: Service | Dependency, name: str, **kwargs: Any) -> Alert:
    return component_alert(
        platform,
        name=name,
        service=comp.name,
        team=comp.team,
        runbook_base=component_runbook_base(platform, comp),
        **kwargs,
    )


def self_alerts(platform: Platform, prom: Job, am: Job) -> list[Alert]:
    p = f'job="{prom.name}"'
    a = f'job="{am.name}"'
    plab = f'{p}, instance="{prom.instance}", {SVC}="{prom.service}", {TEAM}="{prom.team}"'
    alab = f'{a}, instance="{am.instance}", {SVC}="{am.service}", {TEAM}="{am.team}"'
    alerts_panel = links.ALERTS_UID

    def mk(job: Job, name: str, **kwargs: Any) -> Alert:
        return component_alert(
            platform,
            name=name,
            service=job.service,
            team=job.team,
            runbook_base=job.runbook_base,
            dashboard_uid=alerts_panel,
            **kwargs,
        )

    def reload_failed(
        job: Job, product: str, selector: str, series_labels: str, consequence: str, panel: int
    ) -> Alert:
        # Prometheus and Alertmanager export the same reload gauge under their own prefix.
        metric = f"{product.lower()}_config_last_reload_successful"
        alert = mk(
            job,
            f"{product}ConfigReloadFailed",
            expr=f"{metric}{{{selector}}} == 0",
            severity=Severity.TICKET,
            summary=f"{product} on {{{{$labels.instance}}}} could not reload its configuration",
            description=f"The last configuration reload of {{{{$labels.instance}}}} failed 10m ago{consequence}",
            panel=panel,
            for_="10m",
        )
        fires = Fires(value=0, labels={"job": job.name, "instance": job.instance})
        return alert.with_tests(
            *threshold_cases([Signal(f"{metric}{{{series_labels}}}", 1, 0)], alert.for_, fires)
        )

    def notifications_failing(
        job: Job,
        product: str,
        *,
        failed: str,
        total: str,
        by: str,
        target: str,
        summary: str,
        description: str,
        failed_per_minute: int,
        total_per_minute: int,
    ) -> Alert:
        # Prometheus (sends to Alertmanager) and Alertmanager (sends to receivers) count failed and
        # all sends per destination: the alert is the failed share of sends, per destination.
        selector = f'job="{job.name}"'
        series_labels = f'{selector}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}", {by}="{target}"'
        alert = mk(
            job,
            f"{product}NotificationsFailing",
            expr=(
                f"sum by (instance, {by}) (rate({failed}{{{selector}}}[5m]))\n"
                f"/ sum by (instance, {by}) (rate({total}{{{selector}}}[5m])) > 0.01"
            ),
            severity=Severity.PAGE,
            summary=summary,
            description=description,
            panel=links.AlertsPanel.NOTIFICATIONS,
            for_="10m",
        )
        return alert.with_tests(
            *threshold_cases(
                [Signal(f"{failed}{{{series_labels}}}", 0, failed_per_minute, counter=True)],
                alert.for_,
                Fires(
                    value=failed_per_minute / total_per_minute, labels={"instance": job.instance, by: target}
                ),
                window_minutes=5,
                extra=[Series(f"{total}{{{series_labels}}}", f"0+{total_per_minute}x40")],
            )
        )

    group_label = 'rule_group="/etc/prometheus/rules/slo-alerts.yml;edu"'
    rule_failures = mk(
        prom,
        "PrometheusRuleEvaluationFailures",
        expr=f"sum by (instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{{{p}}}[5m])) > 0",
        severity=Severity.PAGE,
        summary="Prometheus fails to evaluate rule group {{$labels.rule_group}}",
        description="{{ $value | humanize }} evaluations of {{$labels.rule_group}} failed in the last 5m, for 10m: the alerts of that group cannot fire.",
        panel=links.AlertsPanel.RULE_FAILURES,
        for_="10m",
    )
    rule_failures = rule_failures.with_tests(
        *threshold_cases(
            [
                Signal(
                    f"prometheus_rule_evaluation_failures_total{{{plab}, {group_label}}}", 0, 1, counter=True
                )
            ],
            rule_failures.for_,
            Fires(
                value=5,
                labels={"instance": prom.instance, "rule_group": "/etc/prometheus/rules/slo-alerts.yml;edu"},
            ),
            window_minutes=5,
        )
    )
    notif = notifications_failing(
        prom,
        "Prometheus",
        failed="prometheus_notifications_errors_total",
        total="prometheus_notifications_sent_total",
        by="alertmanager",
        target="http://alertmanager:9093/api/v2/alerts",
        summary="Prometheus fails to send {{ $value | humanizePercentage }} of alerts to {{$labels.alertmanager}}",
        description="{{ $value | humanizePercentage }} of the alerts Prometheus sent to {{$labels.alertmanager}} failed over 5m, for 10m: pages may never arrive.",
        failed_per_minute=30,
        total_per_minute=60,
    )
    reload_p = reload_failed(
        prom,
        "Prometheus",
        p,
        plab,
        " and the old rules still run: the latest rule change is not live.",
        links.AlertsPanel.CONFIG_RELOADS,
    )
    am_notif = notifications_failing(
        am,
        "Alertmanager",
        failed="alertmanager_notifications_failed_total",
        total="alertmanager_notifications_total",
        by="integration",
        target="pagerduty",
        summary="Alertmanager fails to deliver {{ $value | humanizePercentage }} of {{$labels.integration}} notifications",
        description="{{ $value | humanizePercentage }} of {{$labels.integration}} notifications failed over 5m, for 10m: check the receiver's credentials and reachability.",
        failed_per_minute=6,
        total_per_minute=24,
    )
    reload_a = reload_failed(
        am,
        "Alertmanager",
        a,
        alab,
        ": routing and receivers are those of the previous configuration.",
        links.AlertsPanel.CONFIG_RELOADS,
    )
    alerts = [rule_failures, notif, reload_p, am_notif, reload_a]
    if platform.heartbeat_url:
        alerts.append(watchdog_alert(platform, prom))
    return alerts


def watchdog_alert(platform: Platform, prom: Job) -> Alert:
    """The dead man's switch: fires while Prometheus scrapes itself and evaluates rules, and reaches
    the external heartbeat only through Alertmanager. When the pings stop, the outside service pages:
    Prometheus, Alertmanager or the path between them is down, and no other alert can say so."""
    labels = f'job="{prom.name}", instance="{prom.instance}", {SVC}="{prom.service}", {TEAM}="{prom.team}"'
    alert = component_alert(
        platform,
        name=WATCHDOG,
        expr=f'up{{job="{prom.name}"}} == 1',
        severity=Severity.INFO,
        service=prom.service,
        team=prom.team,
        summary="The alerting pipeline is alive (dead man's switch: always firing)",
        description=(
            "Always firing while Prometheus evaluates its rules; Alertmanager sends it to the heartbeat service "
            "every minute, which pages when it stops arriving. Never silence it."
        ),
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.NOTIFICATIONS,
        runbook_base=prom.runbook_base,
        for_="0s",
    )
    up = f"up{{{labels}}}"
    return alert.with_tests(
        AlertTest(
            "always firing while Prometheus runs",
            (Series(up, "1x20"),),
            "10m",
            fires=(Fires(value=1, labels={"job": prom.name, "instance": prom.instance}),),
        ),
        AlertTest("silent when Prometheus cannot even scrape itself", (Series(up, "0x20"),), "10m"),
    )


# --- custom alerts ------------------------------------------------------------------------------

CUSTOM_PACKAGE = "alerts"


def _custom_package() -> ModuleType | None:
    try:
        return importlib.import_module(CUSTOM_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name == CUSTOM_PACKAGE:
            return None
        raise


def custom_alerts(platform: Platform) -> list[Alert]:
    """The platform's own alerts: ``alerts.custom_alerts(platform)``, each naming its file."""
    package = _custom_package()
    if package is None:
        return []
    found: list[Alert] = list(package.custom_alerts(platform))
    for alert in found:
        if not alert.source.startswith("alerts/"):
            raise ModelError(
                alert.where,
                "a custom alert must say which file of alerts/ defines it",
                "return it from alerts.custom_alerts, which sets source",
            )
    return found


def custom_test_files(platform: Platform) -> list[tuple[str, str]]:
    """Hand-written promtool test files that apply to this platform: (file name, text)."""
    package = _custom_package()
    if package is None or not hasattr(package, "promtool_test_files"):
        return []
    return [(path.name, path.read_text(encoding="utf-8")) for path in package.promtool_test_files(platform)]


def _promtool_check(file: RuleFile, alerts: Sequence[Alert]) -> None:
    """Run promtool on hand-written rules at render time, so a PromQL feature this Prometheus lacks
    stops the build with promtool's own words and the alert's file."""
    if not alerts or not available("promtool"):
        return
    from obs.writer import dump_yaml

    with tempfile.TemporaryDirectory(prefix="obs-rules-") as tmp:
        for alert in alerts:
            path = Path(tmp) / "rule.yml"
            path.write_text(
                dump_yaml({"groups": [{"name": "check", "rules": [alert.rule()]}]}), encoding="utf-8"
            )
            result = run_tool("promtool", ["check", "rules", path.name], cwd=Path(tmp), timeout=30)
            if not result.ok:
                raise PromQLError(
                    alert.where, alert.expr, f"promtool check rules rejects it: {result.output}"
                )


# --- assembling ---------------------------------------------------------------------------------


def rule_files(platform: Platform, env: Environment) -> list[RuleFile]:
    slo_files: list[RuleFile] = []
    services = RuleFile("services")
    targets = RuleFile("targets")
    postgres = RuleFile("postgres")
    redis = RuleFile("redis")
    node = RuleFile("node")
    probes = RuleFile("probes")
    selfmon = RuleFile("self-monitoring")
    custom = RuleFile("custom")
    p = platform.name

    for service in platform.instrumented_services:
        # One file per SLO, its groups by purpose (SLI recordings, metadata, alerts) as Sloth
        # writes them: the tests of one SLO then evaluate only its own recordings.
        for s in service.slos:
            slo = RuleFile(f"slo-{service.name}-{s.name}", test_step=f"{SLO_TEST_STEP_MINUTES}m")
            slo_recordings(slo, slo, platform, service, s)
            slo.expr_tests.append(recording_test(service, s))
            slo.expr_tests.append(quiet_recording_test(service, s))
            rules = slo.group(f"{p}-slo-alerts-{service.name}-{s.name}")
            for alert in slo_alerts(platform, service, s):
                slo.alert(rules, alert)
            slo_files.append(slo)
        rules = services.group(f"{p}-service-{service.name}")
        services.alert(rules, latency_alert(platform, service))
        services.alert(rules, instrumentation_alert(platform, service))

    jobs = scrape_jobs(platform, env)
    rules = targets.group(f"{p}-targets")
    for job in jobs:
        for alert in target_alerts(platform, job, jobs):
            targets.alert(rules, alert)
    for dep in platform.dependencies:
        if dep.kind is DependencyKind.POSTGRES:
            rules = postgres.group(f"{p}-postgres-{dep.name}")
            for alert in postgres_alerts(platform, dep):
                postgres.alert(rules, alert)
        elif dep.kind is DependencyKind.REDIS:
            rules = redis.group(f"{p}-redis-{dep.name}")
            for alert in redis_alerts(platform, dep):
                redis.alert(rules, alert)
    by_name = {j.name: j for j in jobs}
    if "node" in by_name:
        rules = node.group(f"{p}-node")
        for alert in node_alerts(platform, by_name["node"]):
            node.alert(rules, alert)
    if "blackbox-http" in by_name:
        rules = probes.group(f"{p}-probes")
        for alert in probe_alerts(platform, env, by_name["blackbox-http"]):
            probes.alert(rules, alert)
    if "prometheus" in by_name and "alertmanager" in by_name:
        rules = selfmon.group(f"{p}-self-monitoring")
        for alert in self_alerts(platform, by_name["prometheus"], by_name["alertmanager"]):
            selfmon.alert(rules, alert)

    extra = custom_alerts(platform)
    by_source: dict[str, list[Alert]] = {}
    for alert in extra:
        by_source.setdefault(alert.source, []).append(alert)
    for source, alerts in by_source.items():
        rules = custom.group(f"{p}-custom-{Path(source).stem}")
        for alert in alerts:
            custom.alert(rules, alert)
    _promtool_check(custom, extra)
    return [
        f for f in (*slo_files, services, targets, postgres, redis, node, probes, selfmon, custom) if f.groups
    ]


def _tests_document(file: RuleFile, by_name: Mapping[str, RuleFile]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    seen: set[str] = set()
    for alert in file.alerts:
        for case in alert.tests:
            entry = {
                "name": f"{alert.name} [{alert.service}]: {case.name}",
                "interval": case.interval,
                "input_series": [{"series": s.selector, "values": s.values} for s in case.series],
                "alert_rule_test": [
                    *({"eval_time": t, "alertname": alert.name, "exp_alerts": []} for t in case.silent_at),
                    {
                        "eval_time": case.eval_time,
                        "alertname": alert.name,
                        "exp_alerts": [alert.expected(f) for f in case.fires],
                    },
                ],
            }
            # The burn-rate windows of one SLO share their quiet cases: run each once.
            key = json.dumps(entry, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            tests.append(entry)
    tests.extend(file.expr_tests)
    loaded = [by_name[name] for name in file.needs] + [file]
    files = [f"../rules/{f.name}.yml" for f in loaded]
    # Recordings before the alerts that read them, at every evaluation: the firing time is then
    # exact instead of one evaluation late by the groups' alphabetical order.
    order = [g["name"] for f in loaded for g in f.groups]
    return {
        "rule_files": files,
        "evaluation_interval": file.test_step,
        "group_eval_order": order,
        "tests": tests,
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    files = rule_files(ctx.platform, ctx.env)
    by_name = {f.name: f for f in files}
    for file in files:
        yield file.artifact()
    for file in files:
        if file.alerts:
            yield Artifact(f"{TESTS_DIR}/{file.name}.test.yml", _tests_document(file, by_name))
    for name, text in custom_test_files(ctx.platform):
        yield Artifact(f"{TESTS_DIR}/handwritten/{name}", text)


# --- check and test -----------------------------------------------------------------------------


def _rule_paths(env_dir: Path) -> list[Path]:
    return sorted((env_dir / RULES_DIR).glob("*.yml"))


def check(env_dir: Path) -> Iterator[Outcome]:
    """``promtool check rules`` on every rule file."""
    paths = _rule_paths(env_dir)
    if not paths:
        yield Outcome("promtool check rules", "failed", f"no rule files under {env_dir / RULES_DIR}")
        return
    for path in paths:
        name = f"promtool check rules {path.relative_to(env_dir)}"
        try:
            result = run_tool("promtool", ["check", "rules", path.name], cwd=path.parent)
        except ToolNotFoundError as exc:
            yield Outcome(name, "skipped", str(exc))
            return
        yield Outcome(name, "passed" if result.ok else "failed", result.output)


def test_files(env_dir: Path) -> list[Path]:
    tests = env_dir / TESTS_DIR
    return sorted(tests.glob("*.yml")) + sorted((tests / "handwritten").glob("*.yml"))


def run_test_file(env_dir: Path, path: Path) -> Outcome:
    """``promtool test rules`` on one test file of ``env_dir``."""
    name = f"promtool test rules {path.relative_to(env_dir)}"
    result = run_tool("promtool", ["test", "rules", path.name], cwd=path.parent, timeout=300)
    return Outcome(name, "passed" if result.ok else "failed", result.output)


def test(env_dir: Path) -> Iterator[Outcome]:
    """``promtool test rules`` on every generated and hand-written test file, a few at a time
    (each SLO file evaluates hours of history)."""
    paths = test_files(env_dir)
    if not paths:
        yield Outcome("promtool test rules", "failed", f"no test files under {env_dir / TESTS_DIR}")
        return
    if not available("promtool"):
        try:
            run_tool("promtool", ["--version"], cwd=env_dir)
        except ToolNotFoundError as exc:
            yield Outcome("promtool test rules", "skipped", str(exc))
            return
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(lambda path: run_test_file(env_dir, path), paths)


#: Every alert of a platform, for documentation, Alertmanager inhibition and tests.
def all_alerts(platform: Platform, env: Environment) -> list[Alert]:
    return [a for f in rule_files(platform, env) for a in f.alerts]


__all__ = [
    "RULES_DIR",
    "TESTS_DIR",
    "all_alerts",
    "check",
    "compress",
    "render",
    "rule_files",
    "run_test_file",
    "test",
    "test_files",
    "threshold_cases",
]
