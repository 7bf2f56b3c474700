"""The PromQL behind the dashboards, apart from their layout.

Every expression reads raw contract metrics (names from :mod:`obs.contract`), so it passes the
build's contract check whatever recording rules exist. Selectors are built by :func:`selector` so a
renamed label in the contract moves every query at once.

Service dashboards select ``service="$service"`` (the variable); the overview and the SLO
dashboard, which show several services at once, name the service literally.
"""

from __future__ import annotations

from collections.abc import Mapping

from obs import contract
from obs.model import SLO, AvailabilitySLI, LatencySLI, parse_duration

DURATION = contract.HTTP_SERVER_DURATION.name
REQUESTS = f"{DURATION}_count"
BUCKETS = f"{DURATION}_bucket"
ACTIVE = contract.HTTP_SERVER_ACTIVE.name
SERVICE = contract.SERVICE_LABEL
ROUTE = contract.ROUTE_LABEL
STATUS = contract.STATUS_LABEL
METHOD = contract.METHOD_LABEL

RATE = "$__rate_interval"
SERVICE_VAR = "$service"
ROUTE_VAR = "$route"

#: The multiwindow burn-rate alerts of the SRE workbook: (long window, short window, fraction of
#: the budget that window may spend before it pages or opens a ticket).
BURN_WINDOWS: tuple[tuple[str, str, float], ...] = (
    ("1h", "5m", 0.02),
    ("6h", "30m", 0.05),
    ("3d", "6h", 0.10),
)


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


def errors_by_status(service: str = SERVICE_VAR) -> str:
    bad = selector(REQUESTS, _svc(service), match={ROUTE: ROUTE_VAR, STATUS: "[45].."})
    return f"sum by ({STATUS}) (rate({bad}[{RATE}]))"


def latency_quantile(q: float, service: str = SERVICE_VAR) -> str:
    buckets = selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR})
    return f"histogram_quantile({q}, sum by (le) (rate({buckets}[{RATE}])))"


def latency_heatmap(service: str = SERVICE_VAR) -> str:
    buckets = selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR})
    return f"sum by (le) (increase({buckets}[{RATE}]))"


def in_flight(service: str = SERVICE_VAR) -> str:
    return f"sum by ({METHOD}) ({selector(ACTIVE, _svc(service))})"


def slowest_routes(service: str = SERVICE_VAR, q: float = 0.95, top: int = 10) -> str:
    buckets = selector(BUCKETS, _svc(service), match={ROUTE: ROUTE_VAR})
    return f"topk({top}, histogram_quantile({q}, sum by ({ROUTE}, le) (rate({buckets}[$__range]))))"


def errors_by_route(service: str = SERVICE_VAR, error_regex: str = "5..") -> str:
    bad = selector(REQUESTS, _svc(service), match={ROUTE: ROUTE_VAR, STATUS: error_regex})
    return f"topk(10, sum by ({ROUTE}) (increase({bad}[$__range]))) > 0"


def firing_alerts(service: str = SERVICE_VAR) -> str:
    """One sample per firing alert of the service: the marks of "since when"."""
    return f'ALERTS{{{SERVICE}="{service}", alertstate="firing"}}'


def target_up(service: str = SERVICE_VAR) -> str:
    return f"sum by (instance) ({selector('up', _svc(service))})"


def instrumentation_errors(service: str = SERVICE_VAR) -> str:
    return f"sum by (stage) (rate({selector(contract.INSTRUMENTATION_ERRORS.name, _svc(service))}[{RATE}]))"


# --- SLOs -------------------------------------------------------------------------------------


def _slo_selectors(service: str, slo: SLO, extra: Mapping[str, str] | None) -> tuple[str, str]:
    """(bad-or-good events selector, all events selector) of the SLO's SLI."""
    excluded = {ROUTE: "|".join(_regex_escape(r) for r in slo.exclude_routes)} if slo.exclude_routes else None

    def sel(
        metric: str, more: Mapping[str, str] | None = None, re_more: Mapping[str, str] | None = None
    ) -> str:
        return selector(
            metric,
            {SERVICE: service, **(more or {})},
            not_regex=excluded,
            match={**(extra or {}), **(re_more or {})},
        )

    if isinstance(slo.sli, AvailabilitySLI):
        return sel(REQUESTS, re_more={STATUS: slo.sli.error_status_regex}), sel(REQUESTS)
    assert isinstance(slo.sli, LatencySLI)
    return sel(BUCKETS, {"le": slo.sli.le}), sel(REQUESTS)


def _regex_escape(route: str) -> str:
    # Route templates hold '/', '{', '}', '.', '-': only '.' and braces mean something in RE2.
    return route.replace(".", "\\\\.").replace("{", "\\\\{").replace("}", "\\\\}")


def slo_error_ratio(service: str, slo: SLO, window: str, filters: Mapping[str, str] | None = None) -> str:
    """Fraction of bad events over ``window`` (``$__range`` works too)."""
    events, total = _slo_selectors(service, slo, filters)
    all_events = f"sum(increase({total}[{window}]))"
    if isinstance(slo.sli, AvailabilitySLI):
        return f"(sum(increase({events}[{window}])) or vector(0)) / {all_events}"
    return f"1 - (sum(increase({events}[{window}])) / {all_events})"


def slo_attainment(service: str, slo: SLO, filters: Mapping[str, str] | None = None) -> str:
    """The SLI over the SLO window: compare with the objective."""
    return f"1 - ({slo_error_ratio(service, slo, slo.window, filters)})"


def slo_budget_remaining(service: str, slo: SLO, filters: Mapping[str, str] | None = None) -> str:
    """Fraction of the error budget of the window still unspent (negative: overspent)."""
    return f"1 - ({slo_error_ratio(service, slo, slo.window, filters)}) / {_num(slo.error_budget)}"


def slo_burn_rate(service: str, slo: SLO, window: str, filters: Mapping[str, str] | None = None) -> str:
    """How many times faster than sustainable the budget burns over ``window`` (1 = exactly spent
    at the end of the SLO window)."""
    return f"({slo_error_ratio(service, slo, window, filters)}) / {_num(slo.error_budget)}"


def burn_rate_threshold(slo: SLO, long_window: str, budget_fraction: float) -> float:
    """The burn rate at which ``budget_fraction`` of the budget goes in ``long_window``: 14.4 for
    2% in 1h of a 30-day SLO. Derived from the SLO's own window, so a 28-day SLO gets 13.44."""
    return round(budget_fraction * slo.window_seconds / parse_duration(long_window), 2)


def when_variable_matches(expr: str, variable: str, value: str) -> str:
    """``expr`` only while the template variable ``$variable`` (a regex, as Grafana writes multi
    values and "All") matches ``value``; empty otherwise.

    For panels with one query per SLO: the raw metrics have no ``slo`` label to filter on, so the
    match is made on a constant series. ``label_replace`` sets ``keep`` only when its (anchored)
    regex matches, and ``unless on (keep) vector(1)`` drops the series left without it.
    """
    constant = f'label_replace(vector(1), "{variable}", "{value}", "", "")'
    gate = (
        f'(label_replace({constant}, "keep", "yes", "{variable}", "${variable}") unless on (keep) vector(1))'
    )
    return f"({expr}) and on () {gate}"


def slo_alerts(services_regex: str = SERVICE_VAR, slos_regex: str = "$slo") -> str:
    # `slo=~".*"` also matches alerts without an slo label, so "All" shows every service alert.
    return f'sum by (alertname, {SERVICE}, slo, alertstate) (ALERTS{{{SERVICE}=~"{services_regex}", slo=~"{slos_regex}"}})'


def _num(value: float) -> str:
    return format(value, ".6g")


# --- platform overview --------------------------------------------------------------------------


def platform_requests(service: str) -> str:
    return f"sum(rate({selector(REQUESTS, _svc(service))}[{RATE}]))"


def platform_error_ratio(service: str, error_regex: str = "5..") -> str:
    return service_error_ratio(service, error_regex, routes=".*")


def platform_p95(service: str) -> str:
    return f"histogram_quantile(0.95, sum by (le) (rate({selector(BUCKETS, _svc(service))}[{RATE}])))"


__all__ = [
    "BURN_WINDOWS",
    "burn_rate_threshold",
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
    "slo_burn_rate",
    "slo_error_ratio",
    "slowest_routes",
    "target_up",
    "when_variable_matches",
]
