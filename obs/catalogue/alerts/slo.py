"""SLO rules (Sloth's layout, one file per SLO): the 5m slices and the error ratios over every
window, the metadata, and the multiwindow, multi-burn-rate ``ErrorBudgetBurn`` alerts, tested over
whole incidents.

One file holds three groups:

``<platform>-slo-sli-<service>-<slo>``    every evaluation: bad and total requests per second
                                           over 5m (the slices), and the error ratio over each
                                           window shorter than a day, from the raw counters
``<platform>-slo-long-<service>-<slo>``   every :data:`obs.slo.SLOW_INTERVAL`: the 1d, 3d and
                                           SLO-window ratios summed from the slices, the metadata,
                                           and the ticket (it reads the 1d and 3d ratios)
``<platform>-slo-alerts-<service>-<slo>`` every evaluation: the page

Each severity is one alert whose rows (the window table's) are joined by ``or``, as the workbook's
final form: an incident that moves from the 1h row to the 6h row keeps one page open, and no
``for`` delays it past the workbook's detection time. A row needs its failed requests as well as
its ratio (:meth:`obs.slo.SLOAlertWindow.min_failures`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, component_runbook_base, runbook_url
from obs.catalogue.alerts._common import BUCKET, COUNT, REQUESTS, ROUTE, STATUS, SVC, TEAM, tuning_for
from obs.catalogue.alerts.slo_scenarios import (
    STEP_SECONDS,
    Incident,
    Replay,
    SLOShape,
    Step,
    Timeline,
    Unplayable,
    counter_values,
    played,
)
from obs.errors import ModelError, RenderError
from obs.model import SLO, Environment, LatencySLI, Platform, Service, parse_duration
from obs.rules.rulefile import RuleFile
from obs.rules.testgen import num
from obs.slo import (
    KEEP_FIRING_FOR,
    SLICE_WINDOW,
    SLO_LABEL,
    SLOW_INTERVAL,
    SLOAlertWindow,
    SLORecording,
    by_severity,
    fast_recordings,
    firing_windows,
    range_just_under,
    recording_labels,
    recordings,
    sliced,
    slow_recordings,
)

#: SLO tests evaluate the rules every 5 minutes over input sampled every 5 minutes: days of
#: history stay cheap, and the 5m slices tile the long windows exactly.
SLO_TEST_STEP_MINUTES = STEP_SECONDS // 60
ALERT_NAME = "ErrorBudgetBurn"

TOTAL = SLORecording.SLI_TOTAL.series()
ERRORS_5M = SLORecording.SLI_ERRORS.series()
ERROR = SLORecording.SLI_ERROR.series
#: What every windowed error ratio's name starts with (``slo:sli_error:ratio_rate``).
ERROR_PREFIX = str(SLORecording.SLI_ERROR.value).removesuffix("{window}")
OBJECTIVE = SLORecording.OBJECTIVE.series()
ERROR_BUDGET = SLORecording.ERROR_BUDGET.series()
TIME_PERIOD = SLORecording.TIME_PERIOD.series()
PERIOD_REMAINING = SLORecording.PERIOD_BUDGET_REMAINING.series()


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


# --- recordings -----------------------------------------------------------------------------------


def _fast_exprs(service: Service, slo: SLO) -> dict[str, str]:
    """The expressions of :func:`obs.slo.fast_recordings`, by name."""
    sel = _slo_selector(service, slo)
    # Latency: good and total from the duration histogram (every status); availability: from the
    # request counter, which alone has the status.
    counter = COUNT if isinstance(slo.sli, LatencySLI) else REQUESTS
    total = f"{counter}{slo_matchers(service, slo)}"
    five = SLICE_WINDOW
    exprs = {TOTAL: f"sum(rate({total}[{five}]))"}
    if isinstance(slo.sli, LatencySLI):
        le_matcher = f'le="{slo.sli.le}"'
        good = f"{BUCKET}{slo_matchers(service, slo, le_matcher)}"
        # The total of this evaluation is recorded just above: read it rather than the counters.
        exprs[ERRORS_5M] = f"{TOTAL}{sel} - on () sum(rate({good}[{five}]))"

        def ratio(window: str) -> str:
            return f"1 - sum(rate({good}[{window}])) / sum(rate({total}[{window}]))"
    else:
        status_matcher = f'{STATUS}=~"{slo.sli.error_status_regex}"'
        errors = f"{REQUESTS}{slo_matchers(service, slo, status_matcher)}"
        # A service that never failed has no 5xx series at all: its failures are 0 while it has
        # traffic, not absent (the sums of the long windows would skip the slice).
        exprs[ERRORS_5M] = f"sum(rate({errors}[{five}])) or on () 0 * {TOTAL}{sel}"

        def ratio(window: str) -> str:
            return f"(sum(rate({errors}[{window}])) or vector(0)) / sum(rate({total}[{window}]))"

    for name in fast_recordings(slo)[2:]:
        if name.startswith(ERROR_PREFIX):
            window = name.removeprefix(ERROR_PREFIX)
            exprs[name] = f"{ERRORS_5M}{sel} / {TOTAL}{sel}" if window == five else ratio(window)
    exprs[OBJECTIVE] = f"vector({num(slo.objective)})"
    exprs[ERROR_BUDGET] = f"vector({num(slo_budget(slo))})"
    exprs[TIME_PERIOD] = f"vector({slo.window_seconds // 86400})"
    return exprs


def _slow_exprs(service: Service, slo: SLO) -> dict[str, str]:
    """The expressions of :func:`obs.slo.slow_recordings`, by name: long windows summed from the
    slices (bad events over all events, each slice weighed by its traffic)."""
    sel = _slo_selector(service, slo)

    def summed(window: str, span: str) -> str:
        return f"sum_over_time({ERRORS_5M}{sel}[{span}]) / sum_over_time({TOTAL}{sel}[{span}])"

    exprs: dict[str, str] = {}
    for name in slow_recordings(slo):
        if name.startswith(ERROR_PREFIX):
            window = name.removeprefix(ERROR_PREFIX)
            # Alert windows count exactly their slices; the SLO window is a figure, not a trigger.
            exprs[name] = summed(window, window if window == slo.window else range_just_under(window))
    exprs[PERIOD_REMAINING] = f"1 - {ERROR(slo.window)}{sel} / {num(slo_budget(slo))}"
    return exprs


def _check_recorded(where: str, recorded: Mapping[str, Mapping[str, str]], listed: Mapping[str, Mapping[str, str]]) -> None:
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


# --- alerts ---------------------------------------------------------------------------------------


def _row_condition(service: Service, slo: SLO, w: SLOAlertWindow) -> str:
    sel = _slo_selector(service, slo)
    budget, factor = num(slo_budget(slo)), num(w.factor)
    on = f"and on ({SVC}, {SLO_LABEL})"
    lines = [
        f"{ERROR(w.long_window)}{sel} / {budget} > {factor}",
        f"{on} {ERROR(w.short_window)}{sel} / {budget} > {factor}",
    ]
    guard = w.guard(slo)
    if guard is not None:
        # Low-traffic guard: enough requests for a ratio, or enough failures to mean something.
        rate, failures = guard
        span = range_just_under(w.long_window)
        lines.append(
            f"{on} (\n  avg_over_time({TOTAL}{sel}[{span}]) >= {num(rate)}\n"
            # Failed requests are whole: "more than n - 0.5" is "at least n" without a float tie.
            f"  or on ({SVC}, {SLO_LABEL}) avg_over_time({ERRORS_5M}{sel}[{span}]) * {w.row.long_seconds} > {num(failures - 0.5)}\n)"
        )
    return "\n".join(lines)


def _what(slo: SLO) -> str:
    if isinstance(slo.sli, LatencySLI):
        return f"answered within {slo.sli.threshold_seconds:g}s"
    return "answered without a server error"


def _burn_alert(platform: Platform, service: Service, slo: SLO, severity: str, rows: Sequence[SLOAlertWindow], for_: str) -> Alert:
    conditions = [_row_condition(service, slo, w) for w in rows]
    indented = ["\n".join("  " + line for line in c.splitlines()) for c in conditions]
    expr = conditions[0] if len(conditions) == 1 else f"\nor on ({SVC}, {SLO_LABEL})\n".join(f"(\n{c}\n)" for c in indented)
    spend = "; ".join(
        f"{w.factor:g}x over {w.long_window} and {w.short_window} ({w.row.budget_percent:g}% of the budget in {w.long_window})"
        for w in rows
    )
    return Alert(
        name=ALERT_NAME,
        expr=expr,
        severity=Severity(severity),
        service=service.name,
        team=service.team,
        summary=f'{service.name} is burning its {slo.name} error budget {{{{ printf "%.1f" $value }}}}x too fast',
        description=(
            f"{slo.objective * 100:.6g}% of {service.name} requests must be {_what(slo)} over {slo.window}. "
            f'The budget burns {{{{ printf "%.1f" $value }}}} times faster than sustainable (over the long window of the '
            f"fastest condition that holds). This alert fires above {spend}."
        ),
        runbook_url=runbook_url(component_runbook_base(platform, service), ALERT_NAME, slo.name),
        dashboard_url=links.dashboard_url(
            platform.grafana_url, links.SLO_UID, links.SLOPanel.BURN_RATE_WINDOWS, service=service.name, slo=slo.name
        ),
        for_=for_,
        keep_firing_for=KEEP_FIRING_FOR,
        labels={SLO_LABEL: slo.name, "slo_window": slo.window},
        source=slo_where(service, slo),
        scheme=platform.severity_scheme,
    )


def burn_alerts(platform: Platform, env: Environment, service: Service, slo: SLO) -> list[tuple[Alert, tuple[SLOAlertWindow, ...]]]:
    """The alerts of ``slo``, one per severity (page first), each with the rows it joins; tuned by
    the model (``ErrorBudgetBurn``: switched off, one severity for every row, a ``for``)."""
    where = slo_where(service, slo)
    tuning = tuning_for(platform, env, service.name, ALERT_NAME)
    if tuning.threshold is not None:
        raise ModelError(f"{where}: alerts[{ALERT_NAME}].threshold", "a burn-rate alert has no threshold to tune", "change the SLO's objective, or switch the alert off")
    if tuning.enabled is False:
        return []
    rows = firing_windows(slo, where=f"services[{service.name}].")
    grouped = {tuning.severity: rows} if tuning.severity else by_severity(rows)
    order = sorted(grouped, key=lambda s: ("page", "ticket", "info").index(s))
    return [(_burn_alert(platform, service, slo, sev, grouped[sev], tuning.for_ or "0s"), grouped[sev]) for sev in order]


# --- tests: recordings ----------------------------------------------------------------------------


def _counters(steps: Sequence[Step]) -> tuple[str, str, str]:
    """The total, good and failed request counters of ``steps`` as promtool values: cumulative,
    one sample per step, a gap where the step was not scraped."""
    total: list[float | None] = [0.0]
    bad: list[float | None] = [0.0]
    t = b = 0
    for s in steps:
        t, b = t + s.total, b + s.bad
        total.append(float(t) if s.scraped else None)
        bad.append(float(b) if s.scraped else None)
    good = [None if x is None else x - y for x, y in zip(total, bad, strict=True)]  # type: ignore[operator]
    return counter_values(total), counter_values(good), counter_values(bad)


@lru_cache(maxsize=512)
def _incident_counters(incident: Incident) -> tuple[str, str, str]:
    # An incident is compared by identity and shared by every SLO of its shape (``played`` is
    # cached): its counters are written once however many services replay it.
    return _counters(incident.steps)


def _series(service: Service, slo: SLO, counters: tuple[str, str, str]) -> tuple[Series, ...]:
    """The total, good and failed request counters (:func:`_counters`) as the service's promtool
    input series."""
    total, good, bad = counters
    base = (
        f'{SVC}="{service.name}", {TEAM}="{service.team}", job="{service.name}", instance="{service.name}:{service.port}", '
        f'http_request_method="GET", {ROUTE}="/slo-probe"'
    )
    if isinstance(slo.sli, LatencySLI):
        return (
            Series(f"{COUNT}{{{base}}}", total),
            Series(f'{BUCKET}{{{base}, le="{slo.sli.le}"}}', good),
        )
    return (
        Series(f'{REQUESTS}{{{base}, {STATUS}="200"}}', good),
        Series(f'{REQUESTS}{{{base}, {STATUS}="500"}}', bad),
    )


def _recordings_case(service: Service, slo: SLO, what: str, steps: Sequence[Step], expected: Mapping[str, float]) -> dict[str, Any]:
    labels = f'{{{SVC}="{service.name}", {SLO_LABEL}="{slo.name}", {TEAM}="{service.team}"}}'
    at = f"{len(steps) * SLO_TEST_STEP_MINUTES}m"
    return {
        "name": f"recordings [{service.name}/{slo.name}]: {what}",
        "interval": f"{SLO_TEST_STEP_MINUTES}m",
        "input_series": [{"series": x.selector, "values": x.values} for x in _series(service, slo, _counters(steps))],
        "promql_expr_test": [
            {
                # promtool 2.42 compares floats exactly; 1 means "equal within 1e-9".
                "expr": f"abs({name}{_slo_selector(service, slo)} - {num(value)}) < bool 1e-9",
                "eval_time": at,
                "exp_samples": [{"labels": labels, "value": 1}],
            }
            for name, value in expected.items()
        ],
    }


def recording_test(service: Service, slo: SLO) -> dict[str, Any]:
    """Half the budget burning for 6 hours leaves half of it, and every recording says so (the raw
    windows, the summed ones and the SLO window alike)."""
    per_step = 30_000
    bad = round(per_step * slo_budget(slo) * 0.5)
    ratio = bad / per_step
    steps = [Step(per_step, bad)] * 72
    expected: dict[str, float] = {
        OBJECTIVE: slo.objective,
        ERROR_BUDGET: slo_budget(slo),
        TIME_PERIOD: slo.window_seconds // 86400,
        TOTAL: per_step / STEP_SECONDS,
        ERRORS_5M: bad / STEP_SECONDS,
        PERIOD_REMAINING: 1 - ratio / slo_budget(slo),
    }
    for name in (*fast_recordings(slo), *slow_recordings(slo)):
        if name.startswith(ERROR_PREFIX):
            expected[name] = ratio
    return _recordings_case(service, slo, f"{ratio:.4%} failing leaves {1 - ratio / slo_budget(slo):.0%} of the budget", steps, expected)


def quiet_recording_test(service: Service, slo: SLO) -> dict[str, Any]:
    """15 minutes without a request, then healthy traffic: the whole budget is left (a slice
    without requests adds no bad events, not NaN)."""
    steps = [Step(0, 0)] * 3 + [Step(3000, 0)] * 6
    return _recordings_case(service, slo, "a quiet stretch leaves the whole budget", steps, {ERROR(slo.window): 0.0, PERIOD_REMAINING: 1.0})


# --- tests: incidents -------------------------------------------------------------------------


def _offset(minutes: int) -> str:
    """Minutes from the incident's start: ``+5m``, ``+1h05m``, ``+1d2h``."""
    sign = "-" if minutes < 0 else "+"
    days, rest = divmod(abs(minutes), 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else ""]
    if mins:
        parts.append(f"{mins:02d}m" if days or hours else f"{mins}m")
    return sign + ("".join(parts) or "0m")


def timeline_text(tl: Timeline, lead: int) -> str:
    """``page +5m to +50m; ticket never``: when each severity fires, from the incident's start."""
    parts = []
    for severity in tl.firing:
        spans = []
        for start, stop in tl.intervals(severity):
            end = "the end" if stop >= tl.evaluations else _offset((stop - lead) * SLO_TEST_STEP_MINUTES)
            spans.append(f"{_offset((start - lead) * SLO_TEST_STEP_MINUTES)} to {end}")
        parts.append(f"{severity} {', '.join(spans) or 'never'}")
    return "; ".join(parts)


def _series_of(service: Service, slo: SLO, incident: Incident) -> tuple[Series, ...]:
    return _series(service, slo, _incident_counters(incident))


def _expected_at(alerts: Mapping[str, Alert], tl: Timeline, at: int) -> list[dict[str, Any]]:
    return [alerts[s].expected(Fires(value=v)) for s in tl.firing if (v := tl.firing[s][at]) is not None]


def incident_cases(service: Service, slo: SLO, alerts: Mapping[str, Alert], only: str = "") -> list[dict[str, Any]]:
    """Every incident of :func:`obs.catalogue.alerts.slo_scenarios.incidents` as a promtool test
    group: its series, and ErrorBudgetBurn at each checkpoint. The name says the incident and the
    timeline, so a failing test prints both."""
    try:
        games = played(SLOShape.of(slo), only)
    except Unplayable as err:
        raise RenderError(f"rules: {slo_where(service, slo)}: {err}") from None
    cases = []
    for game in games:
        incident, tl = game.incident, game.timeline
        cases.append(
            {
                "name": f"{ALERT_NAME} [{service.name}/{slo.name}]: {incident.title}: {timeline_text(tl, incident.lead)}",
                "interval": f"{SLO_TEST_STEP_MINUTES}m",
                "input_series": [{"series": x.selector, "values": x.values} for x in _series_of(service, slo, incident)],
                "alert_rule_test": [
                    {"eval_time": f"{p * SLO_TEST_STEP_MINUTES}m", "alertname": ALERT_NAME, "exp_alerts": _expected_at(alerts, tl, p)}
                    for p in game.checkpoints
                ],
            }
        )
    return cases


def _unit_cases(service: Service, slo: SLO, alerts: Mapping[str, Alert], only: str, for_: str = "") -> list[AlertTest]:
    """The firing and the silent case every alert carries (:func:`obs.alerting.require_tests`):
    every request failing from the start (for 30 minutes, and a tuned ``for`` longer), and two
    healthy hours. The failing case's conditions hold from its first evaluation, so a ``for`` only
    delays it: the value at its end is the replay's."""
    per_step = 30_000
    failing = 6 + -(-parse_duration(for_ or "0s") // STEP_SECONDS)
    cases = []
    for what, steps in (
        (f"every request failing for {failing * SLO_TEST_STEP_MINUTES}m", [Step(per_step, per_step)] * failing),
        ("healthy traffic for 2h", [Step(per_step, round(per_step * slo_budget(slo) * 0.1))] * 24),
    ):
        incident = Incident("unit", what, tuple(steps), 0)
        tl = Replay(SLOShape.of(slo), incident, only=only).run()
        fires = tuple(Fires(value=v, alert=alerts[s]) for s in tl.firing if (v := tl.firing[s][-1]) is not None)
        at = f"{len(steps) * SLO_TEST_STEP_MINUTES}m"
        cases.append(AlertTest(what, _series(service, slo, _counters(steps)), at, fires=fires, interval=f"{SLO_TEST_STEP_MINUTES}m"))
    return cases


# --- the file -----------------------------------------------------------------------------------


def slo_rule_file(platform: Platform, env: Environment, service: Service, slo: SLO) -> RuleFile:
    """The rule file of one SLO: recordings, alerts, and their tests over whole incidents."""
    where = slo_where(service, slo)
    labels = recording_labels(service, slo)
    p = platform.name
    file = RuleFile(f"slo-{service.name}-{slo.name}", test_step=f"{SLO_TEST_STEP_MINUTES}m")
    fast = file.group(f"{p}-slo-sli-{service.name}-{slo.name}")
    for name, expr in _fast_exprs(service, slo).items():
        file.record(fast, name, expr, labels, where)
    slow = file.group(f"{p}-slo-long-{service.name}-{slo.name}")
    # Never faster than the environment's own evaluation interval.
    file.groups[-1]["interval"] = max(SLOW_INTERVAL, env.scrape_interval, key=parse_duration)
    for name, expr in _slow_exprs(service, slo).items():
        file.record(slow, name, expr, labels, where)
    _check_recorded(where, {r["record"]: r["labels"] for g in file.groups for r in g["rules"]}, recordings(service, slo))

    file.expr_tests.append(recording_test(service, slo))
    file.expr_tests.append(quiet_recording_test(service, slo))
    burns = burn_alerts(platform, env, service, slo)
    if not burns:
        return file
    by_sev = {a.severity.value: a for a, _ in burns}
    only = tuning_for(platform, env, service.name, ALERT_NAME).severity
    if _replayable(platform, env, service, slo):
        file.expr_tests.extend(incident_cases(service, slo, by_sev, only))
    units = _unit_cases(service, slo, by_sev, only, tuning_for(platform, env, service.name, ALERT_NAME).for_)
    fast_alerts = file.group(f"{p}-slo-alerts-{service.name}-{slo.name}")
    for alert, rows in burns:
        # An alert reading a summed window is evaluated with it, in the slow group.
        target = slow if any(sliced(w.long_window) or sliced(w.short_window) for w in rows) else fast_alerts
        file.alert(target, alert.with_tests(*units))
    if not fast_alerts:
        file.groups.pop()
    return file


def _replayable(platform: Platform, env: Environment, service: Service, slo: SLO) -> bool:
    """Whether the incidents can be asserted: the replay evaluates the rules as rendered by
    default; a ``for`` tuned onto the alert is not replayed (its unit cases still run)."""
    return not tuning_for(platform, env, service.name, ALERT_NAME).for_


def slo_rule_files(platform: Platform, env: Environment) -> list[RuleFile]:
    """One file per SLO of every instrumented service."""
    return [slo_rule_file(platform, env, service, slo) for service in platform.instrumented_services for slo in service.slos]


__all__ = [
    "ALERT_NAME",
    "ERROR",
    "ERRORS_5M",
    "ERROR_BUDGET",
    "OBJECTIVE",
    "PERIOD_REMAINING",
    "SLO_TEST_STEP_MINUTES",
    "TIME_PERIOD",
    "TOTAL",
    "burn_alerts",
    "incident_cases",
    "quiet_recording_test",
    "recording_test",
    "slo_budget",
    "slo_matchers",
    "slo_rule_file",
    "slo_rule_files",
    "slo_where",
]
