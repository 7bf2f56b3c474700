"""The PromQL behind the dashboards, apart from their layout.

Two kinds of query:

* SLO maths (attainment, error ratio per window, burn rate, budget spent and left) selects the
  series the SLO recording rules record, by the names and labels :mod:`obs.slo` gives them
  (:mod:`dashboards.recordings`): the maths has one definition, the rules the alerts read, and a
  30-day panel is a selector instead of a 30-day ``increase`` over every histogram series. These return :class:`Recorded` (the expression and the
  recorded names it reads, declared on the target).
* Everything else (traffic, errors by route or status, latency quantiles, in-flight) reads raw
  contract metrics (names from :mod:`obs.contract`): those panels filter by route and status,
  labels the recordings do not keep.

Selectors are built by :func:`selector` so a renamed label in the contract moves every query at
once. Service dashboards select ``service="$service"`` (the variable); the overview and the SLO
dashboard, which show several services at once, name the service literally.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from obs import contract
from obs.catalogue.dashboards.recordings import SLORecordings
from obs.errors import RenderError
from obs.grafana import Target, Thresholds
from obs.model import SLO
from obs.slo import SLO_LABEL, SLOAlertWindow, SLORecording, alert_windows

#: The SLO alerts' name (obs.catalogue.alerts.slo renders it).
BURN_ALERT = "ErrorBudgetBurn"

#: Request rates and errors read the request counter (by method, route, status); latencies the
#: duration histogram (by method and route, over every status).
REQUESTS = contract.HTTP_SERVER_REQUESTS.name
DURATION = contract.HTTP_SERVER_DURATION.name
BUCKETS = f"{DURATION}_bucket"
ACTIVE = contract.HTTP_SERVER_ACTIVE.name
SERVICE = contract.SERVICE_LABEL
ROUTE = contract.ROUTE_LABEL
STATUS = contract.STATUS_LABEL
METHOD = contract.METHOD_LABEL

RATE = "$__rate_interval"
SERVICE_VAR = "$service"
ROUTE_VAR = "$route"


def selector(
    metric: str,
    matchers: Mapping[str, str] | None = None,
    *,
    match: Mapping[str, str] | None = None,
    not_regex: Mapping[str, str] | None = None,
) -> str:
    """``metric{a="x", b=~"y", c!~"z"}``: ``matchers`` are equality, ``match`` regex matches,
    ``not_regex`` negative regex matches."""
    parts = [f'{k}="{v}"' for k, v in (matchers or {}).items()]
    parts += [f'{k}=~"{v}"' for k, v in (match or {}).items()]
    parts += [f'{k}!~"{v}"' for k, v in (not_regex or {}).items()]
    return f"{metric}{{{', '.join(parts)}}}"


def _svc(service: str) -> dict[str, str]:
    return {SERVICE: service}


# --- service panels (templated: $service, $route) ---------------------------------------------


def service_requests(service: str = SERVICE_VAR, by: str = ROUTE) -> str:
    return f"sum by ({by}) (rate({selector(REQUESTS, _svc(service), match={ROUTE: ROUTE_VAR})}[{RATE}]))"


def service_error_ratio(
    service: str = SERVICE_VAR, error_regex: str = "5..", *, routes: str = ROUTE_VAR
) -> str:
    bad = selector(REQUESTS, _svc(service), match={ROUTE: routes, STATUS: error_regex})
    total = selector(REQUESTS, _svc(service), match={ROUTE: routes})
    # `or vector(0)` keeps the line at 0 instead of a gap while nothing fails.
    return f"(sum(rate({bad}[{RATE}])) or vector(0)) / sum(rate({total}[{RATE}]))"


def zero(label: str) -> str:
    """A 0 under ``label="none"``: what an error panel shows while nothing fails (no series of
    errors exists yet), instead of "No data", which reads like a broken panel."""
    return f'label_replace(vector(0), "{label}", "none", "", "")'


def errors_by_status(service: str = SERVICE_VAR) -> str:
    bad = selector(REQUESTS, _svc(service), match={ROUTE: ROUTE_VAR, STATUS: "[45].."})
    return f"sum by ({STATUS}) (rate({bad}[{RATE}])) or {zero(STATUS)}"


def latency_quantile(q: float, service: str = SERVICE_VAR, exclude_routes: Sequence[str] = ()) -> str:
    """The quantile over the routes picked, less those the latency SLO leaves out (as the SLO and
    LatencyP99High select them)."""
    buckets = _not_routes(selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR}), exclude_routes)
    return f"histogram_quantile({q}, sum by (le) (rate({buckets}[{RATE}])))"


def _not_routes(sel: str, routes: Sequence[str]) -> str:
    """``sel`` with one ``route!="..."`` matcher per route (no regex: templates need no escaping)."""
    extra = "".join(f', {ROUTE}!="{r}"' for r in routes)
    return sel[:-1] + extra + "}" if extra else sel


def latency_heatmap(service: str = SERVICE_VAR) -> str:
    """Requests per second in each bucket. A rate, not ``increase``: a cell spans one step, and
    ``increase`` over the wider ``$__rate_interval`` would count each request in several cells."""
    buckets = selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR})
    return f"sum by (le) (rate({buckets}[{RATE}]))"


def in_flight(service: str = SERVICE_VAR) -> str:
    return f"sum by ({METHOD}) ({selector(ACTIVE, _svc(service))})"


def slowest_routes(service: str = SERVICE_VAR, q: float = 0.95, top: int = 10) -> str:
    buckets = selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR})
    return f"topk({top}, histogram_quantile({q}, sum by ({ROUTE}, le) (rate({buckets}[$__range]))))"


def errors_by_route(service: str = SERVICE_VAR, error_regex: str = "5..") -> str:
    bad = selector(REQUESTS, _svc(service), match={ROUTE: ROUTE_VAR, STATUS: error_regex})
    return f"(topk(10, sum by ({ROUTE}) (increase({bad}[$__range]))) > 0) or {zero(ROUTE)}"


def firing_alerts(service: str = SERVICE_VAR) -> str:
    """One sample per firing alert of the service: the marks of "since when"."""
    return f'ALERTS{{{SERVICE}="{service}", alertstate="firing"}}'


def target_up(service: str = SERVICE_VAR) -> str:
    return f"sum by (instance) ({selector('up', _svc(service))})"


def instrumentation_errors(service: str = SERVICE_VAR) -> str:
    return f"sum by (stage) (rate({selector(contract.INSTRUMENTATION_ERRORS.name, _svc(service))}[{RATE}])) or {zero('stage')}"


# --- SLOs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """A query that reads SLO recordings: its expression and the recorded names it selects.

    The names are declared on the panel's target: they were checked against what the SLO records
    (:meth:`SLORecordings.series`, from :func:`obs.slo.recordings`), and a dashboard rendered without the rules
    (``obs build --only grafana``) then still passes the contract check.
    """

    expr: str
    reads: frozenset[str]

    def target(self, legend: str, thresholds: Thresholds | None = None) -> Target:
        return Target(self.expr, legend, thresholds=thresholds, declared=self.reads)


#: One SLO's recordings, or several SLOs' at once (the SLO dashboard).
SLOs = SLORecordings | Sequence[SLORecordings]


def _read(
    recordings: SLOs, kind: SLORecording, window: str = "", variables: Collection[str] = ()
) -> Recorded:
    """One SLO: ``name{<the labels its rule puts on the series>}``. Several SLOs: ``name{}``, one
    query for all of them whatever their number (each must record it). Either way plus
    ``label=~"$label"`` for each dashboard variable in ``variables``, which must name a label of
    every series read."""
    single = isinstance(recordings, SLORecordings)
    each = [recordings] if isinstance(recordings, SLORecordings) else list(recordings)
    if not each:
        raise ValueError(f"no SLO records {kind.series(window)!r}: pass at least one")
    found = [(r, r.series(kind, window)) for r in each]
    for r, series in found:
        missing = [v for v in variables if v not in series.labels]
        if missing:
            raise RenderError(
                f"dashboards: {r.where}: {series.name} has no label {', '.join(missing)} "
                f"to filter on (labels: {', '.join(series.labels)})"
            )
    name, labels = found[0][1].name, found[0][1].labels
    expr = selector(name, labels if single else {}, match={v: f"${v}" for v in variables})
    return Recorded(expr, frozenset({name}))


def slo_error_ratio(recordings: SLOs, window: str, variables: Collection[str] = ()) -> Recorded:
    """Fraction of bad events over ``window`` (one of the recorded windows, or the SLO's own)."""
    return _read(recordings, SLORecording.SLI_ERROR, window, variables)


def slo_attainment(recordings: SLORecordings, variables: Collection[str] = ()) -> Recorded:
    """The SLI over the SLO window: compare with the objective."""
    ratio = slo_error_ratio(recordings, recordings.slo.window, variables)
    return Recorded(f"1 - {ratio.expr}", ratio.reads)


def slo_budget_remaining(recordings: SLOs, variables: Collection[str] = ()) -> Recorded:
    """Fraction of the error budget of the window still unspent (negative: overspent)."""
    return _read(recordings, SLORecording.PERIOD_BUDGET_REMAINING, variables=variables)


def slo_budget_spent(recordings: SLOs, variables: Collection[str] = ()) -> Recorded:
    """Fraction of the error budget of the window spent (above 1: the SLO is breached)."""
    left = slo_budget_remaining(recordings, variables)
    return Recorded(f"1 - {left.expr}", left.reads)


def slo_burn_rate(recordings: SLOs, window: str, variables: Collection[str] = ()) -> Recorded:
    """How many times faster than sustainable the budget burns over ``window`` (1 = exactly spent
    at the end of the SLO window): the window's error ratio over the SLO's recorded budget, as the
    alerts compute it (the rules record the ratio, not the burn rate)."""
    ratio = _read(recordings, SLORecording.SLI_ERROR, window, variables)
    budget = _read(recordings, SLORecording.ERROR_BUDGET, variables=variables)
    return Recorded(
        f"{ratio.expr} / on ({SERVICE}, {SLO_LABEL}) group_left {budget.expr}", ratio.reads | budget.reads
    )


def burn_lines(slo: SLO) -> tuple[SLOAlertWindow, SLOAlertWindow]:
    """The two fastest burn-rate alerts of ``slo``, as the rules fire them (:func:`obs.slo.alert_windows`:
    the window table, factors from the SLO's window, severities after ``page: false``). Burn-rate
    panels draw the fastest as the upper line and the next as the lower one."""
    windows = alert_windows(slo)
    return windows[0], windows[1] if len(windows) > 1 else windows[0]


def burn_windows(slo: SLO) -> tuple[str, ...]:
    """The windows a burn-rate panel shows: the fastest alert's short window, then every alert's
    long window (each is recorded for the alerts)."""
    windows = alert_windows(slo)
    return tuple(dict.fromkeys([windows[0].short_window, *(w.long_window for w in windows)]))


def acts(window: SLOAlertWindow) -> str:
    """What the alert does when it fires, for panel descriptions: "pages" or "opens a ticket"."""
    return "pages" if window.severity == "page" else "opens a ticket"


def slo_alerts(services_regex: str = SERVICE_VAR, slos_regex: str = "$slo") -> str:
    """The burn-rate alerts of the SLOs picked. ``slo!=""``: "All" (``.*``) also matches alerts
    without an slo label, which listed the Watchdog and every service alert here."""
    return (
        f"sum by (alertname, {SERVICE}, {SLO_LABEL}, severity, alertstate) "
        f'(ALERTS{{alertname="{BURN_ALERT}", {SERVICE}=~"{services_regex}", {SLO_LABEL}=~"{slos_regex}", {SLO_LABEL}!=""}})'
    )


# --- platform overview --------------------------------------------------------------------------


def platform_requests(service: str) -> str:
    return f"sum(rate({selector(REQUESTS, _svc(service))}[{RATE}]))"


def platform_error_ratio(service: str, error_regex: str = "5..") -> str:
    return service_error_ratio(service, error_regex, routes=".*")


def platform_p95(service: str) -> str:
    return f"histogram_quantile(0.95, sum by (le) (rate({selector(BUCKETS, _svc(service))}[{RATE}])))"


__all__ = [
    "Recorded",
    "acts",
    "burn_lines",
    "burn_windows",
    "errors_by_route",
    "errors_by_status",
    "firing_alerts",
    "in_flight",
    "instrumentation_errors",
    "latency_heatmap",
    "latency_quantile",
    "platform_error_ratio",
    "platform_p95",
    "platform_requests",
    "selector",
    "service_error_ratio",
    "service_requests",
    "slo_alerts",
    "slo_attainment",
    "slo_budget_remaining",
    "slo_budget_spent",
    "slo_burn_rate",
    "slo_error_ratio",
    "slowest_routes",
    "zero",
    "target_up",
]
