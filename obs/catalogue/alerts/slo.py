"""SLO rules (Sloth's layout, one file per SLO): SLI recordings per window, metadata, and the
multi-window multi-burn-rate ``ErrorBudgetBurn`` alerts, with their promtool cases."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, component_runbook_base
from obs.catalogue.alerts._common import BUCKET, COUNT, ROUTE, STATUS, SVC, TEAM
from obs.errors import RenderError
from obs.model import SLO, LatencySLI, Platform, Service, parse_duration
from obs.rules.rulefile import RuleFile
from obs.rules.testgen import compress, duration_minutes, num
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

#: SLO tests evaluate rules every 5 minutes (input stays per minute): hours of burn-rate history
#: then take a fifth of the evaluations, and every window still holds five samples or more.
SLO_TEST_STEP_MINUTES = 5


def slo_matchers(service: Service, slo: SLO, *extra: str) -> str:
    parts = [f'{SVC}="{service.name}"', *extra]
    # One negative matcher per route: no regex, so route templates need no escaping.
    parts.extend(f'{ROUTE}!="{route}"' for route in slo.exclude_routes)
    return "{" + ", ".join(parts) + "}"


def _slo_selector(service: Service, slo: SLO) -> str:
    return f'{{{SVC}="{service.name}", {SLO_LABEL}="{slo.name}"}}'


def slo_budget(slo: SLO) -> float:
    # 1 - 0.999 is 0.0010000000000000009 in floating point; the rule should read 0.001.
    return round(slo.error_budget, 12)


def slo_where(service: Service, slo: SLO) -> str:
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
    where = slo_where(service, slo)
    labels = recording_labels(service, slo)
    sel = _slo_selector(service, slo)
    total = f"{COUNT}{slo_matchers(service, slo)}"
    five = SLICE_WINDOW
    if isinstance(slo.sli, LatencySLI):
        le_matcher = 'le="' + slo.sli.le + '"'
        good = f"{BUCKET}{slo_matchers(service, slo, le_matcher)}"
        bad_5m = f"sum(rate({total}[{five}])) - sum(rate({good}[{five}]))"
    else:
        status_matcher = STATUS + '=~"' + slo.sli.error_status_regex + '"'
        errors = f"{COUNT}{slo_matchers(service, slo, status_matcher)}"
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
        sli.record(rules, BURN(window), f"{ERROR(window)}{sel} / {num(slo_budget(slo))}", labels, where)
    # The SLO-window ratio weighs every 5m slice by its traffic: bad events over all events. The
    # bad events are counted, not derived from the slice's ratio: a slice without requests has the
    # ratio 0/0 = NaN, and one NaN in sum_over_time would leave the whole window's figures NaN
    # for as long as the window (a quiet night hid the budget for 30 days).
    sli.record(rules, ERRORS_5M, bad_5m, labels, where)

    w = slo.window
    rules = meta.group(f"{platform.name}-slo-meta-{service.name}-{slo.name}")
    written.append(rules)
    meta.record(rules, OBJECTIVE, f"vector({num(slo.objective)})", labels, where)
    meta.record(rules, ERROR_BUDGET, f"vector({num(slo_budget(slo))})", labels, where)
    meta.record(rules, TIME_PERIOD, f"vector({slo.window_seconds // 86400})", labels, where)
    meta.record(
        rules,
        ERROR(w),
        f"sum_over_time({ERRORS_5M}{sel}[{w}]) / sum_over_time({TOTAL(five)}{sel}[{w}])",
        labels,
        where,
    )
    meta.record(rules, PERIOD_BURN, f"{ERROR(w)}{sel} / {num(slo_budget(slo))}", labels, where)
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
    budget = slo_budget(slo)
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
                "expr": f"abs({name}{_slo_selector(service, slo)} - {num(value)}) < bool 1e-9",
                "eval_time": f"{minutes}m",
                "exp_samples": [{"labels": labels, "value": 1}],
            }
            for name, value in expected.items()
        ],
    }


def _slo_alert(platform: Platform, service: Service, slo: SLO, window: SLOAlertWindow) -> Alert:
    sel = _slo_selector(service, slo)
    long_w, short_w = window.long_window, window.short_window
    factor = num(window.factor)
    expr = (
        f"{BURN(long_w)}{sel} > {factor}\n"
        f"and on ({SVC}, {SLO_LABEL}) {BURN(short_w)}{sel} > {factor}\n"
        # Low-traffic guard: a handful of requests (3 in an hour, 1 failed) must not page.
        f"and on ({SVC}, {SLO_LABEL}) {TOTAL(long_w)}{sel} >= {num(slo.min_request_rate)}"
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
        source=slo_where(service, slo),
    )


def _slo_series(
    service: Service, slo: SLO, burns: Sequence[float], rps: float, quiet_minutes: int = 0
) -> tuple[Series, ...]:
    """Traffic at ``rps`` requests per second; during minute ``m`` (from m to m+1) bad requests
    burn the budget at ``burns[m]`` times the sustainable rate. The first ``quiet_minutes`` (before
    those) have no request at all: every counter stays where it is."""
    per_minute = rps * 60
    budget = slo_budget(slo)
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
            duration_minutes(window.long_window),
            duration_minutes(window.short_window),
            duration_minutes(window.for_),
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
    max_burn = 1 / slo_budget(slo)
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

    quiet_at = max(steps(duration_minutes(w.for_)) + step for w in windows)
    common = [case("healthy traffic: errors at a tenth of the budget", [healthy] * quiet_at)]
    if slo.min_request_rate > 0:
        common.append(
            case(
                f"low traffic: every window burning, but under {num(slo.min_request_rate)} requests/s",
                [burn_above(max(factors))] * quiet_at,
                traffic=slo.min_request_rate / 2,
            )
        )
    alerts: list[Alert] = []
    for window, alert in pairs:
        long_m, short_m, hold = (
            duration_minutes(window.long_window),
            duration_minutes(window.short_window),
            duration_minutes(window.for_),
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
                        f"a {burst}m burst at {num(round(spike, 1))}x leaves the {window.long_window} window under {num(window.factor)}x",
                        [healthy] * (long_m - burst) + [round(spike, 1)] * burst,
                    )
                )
        alerts.append(alert.with_tests(*cases, *common))
    return alerts


__all__ = ["BURN", "ERROR", "ERRORS_5M", "ERROR_BUDGET", "GOOD", "OBJECTIVE", "PERIOD_BURN", "PERIOD_REMAINING", "SLO_TEST_STEP_MINUTES", "TIME_PERIOD", "TOTAL", "quiet_recording_test", "recording_test", "slo_alerts", "slo_budget", "slo_matchers", "slo_recordings", "slo_where"]
