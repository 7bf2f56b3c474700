"""One dashboard per instrumented service: what is broken, since when, for whom, and the way to
the trace and the logs of a slow or failed request.

Reading order is the on-call's: SLO state and current errors first, then traffic and errors by
route and status, then latency (percentiles with exemplars, heatmap, slowest routes).
"""

from __future__ import annotations

from obs import contract, links
from obs.catalogue.dashboards import navigation as nav
from obs.catalogue.dashboards import queries as q
from obs.catalogue.dashboards.panels import up_stat, with_width
from obs.catalogue.dashboards.recordings import slo_recordings
from obs.grafana import (
    Annotation,
    Dashboard,
    Panel,
    Target,
    Thresholds,
    custom_variable,
    datasource_variable,
    heatmap,
    query_variable,
    row,
    stat,
    table,
    timeseries,
)
from obs.grafana.provisioning import prometheus_uid
from obs.model import SLO, AvailabilitySLI, Environment, LatencySLI, Platform, Service

P = links.ServicePanel


def _availability(service: Service) -> SLO | None:
    return next((s for s in service.slos if isinstance(s.sli, AvailabilitySLI)), None)


def _latency(service: Service) -> SLO | None:
    return next((s for s in service.slos if isinstance(s.sli, LatencySLI)), None)


def _seconds_label(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def slo_panels(service: Service) -> list[Panel]:
    """SLO status, budget left and burn rate: one query per SLO, read from the SLO's recording
    rules (:mod:`dashboards.recordings`), thresholds from each objective."""
    if not service.slos:
        return []
    recorded = [(slo, slo_recordings(service, slo)) for slo in service.slos]
    status = stat(
        "SLO attainment (window)",
        *(
            q.slo_attainment(r).target(
                f"{slo.name} (objective {slo.objective:.2%}, {slo.window})",
                thresholds=Thresholds.below(slo.objective, None),
            )
            for slo, r in recorded
        ),
        id=P.SLO_STATUS,
        unit="percentunit",
        decimals=3,
        description=(
            "Share of good requests over each SLO's window. Red: the objective is missed now, users have felt it "
            "for long enough to spend the whole error budget. Next: check the burn-rate panel to see whether it is "
            "still getting worse, then errors by status and latency below."
        ),
    )
    budget = stat(
        "Error budget left",
        *(q.slo_budget_remaining(r).target(slo.name) for slo, r in recorded),
        id=P.ERROR_BUDGET,
        unit="percentunit",
        decimals=1,
        thresholds=Thresholds.below(0.0, 0.25),
        description=(
            "Fraction of the window's error budget not yet spent (negative: overspent). Orange under 25%: freeze "
            "risky deploys. Red: the SLO is breached; prioritise reliability work with the owning team."
        ),
    )
    fast, slow = q.burn_lines(service.slos[0])
    burn = timeseries(
        f"Burn rate ({fast.long_window} and {fast.short_window})",
        *(
            q.slo_burn_rate(r, window).target(f"{slo.name} {window}")
            for slo, r in recorded
            for window in (fast.long_window, fast.short_window)
        ),
        id=P.BURN_RATE,
        unit="x",
        thresholds=Thresholds.above(slow.factor, fast.factor, style="dashed"),
        description=(
            f"How fast each SLO spends its budget: 1 spends it exactly over the window. Above {fast.factor:g} for both "
            f"{fast.long_window} and {fast.short_window} the fast-burn alert {q.acts(fast)} "
            f"({fast.row.budget_percent:g}% of the budget in {fast.long_window}); above {slow.factor:g} over "
            f"{slow.long_window} (and {slow.short_window}) the next one {q.acts(slow)}. If only the {fast.short_window} "
            "line is high the problem may already be over; if both are high, act now."
        ),
    )
    return [status, budget, burn]


def service_dashboard(platform: Platform, env: Environment, service: Service) -> Dashboard:
    uid = links.service_dashboard_uid(service.name)
    availability, latency = _availability(service), _latency(service)
    error_regex = (
        availability.sli.error_status_regex
        if availability and isinstance(availability.sli, AvailabilitySLI)
        else "5.."
    )
    logs_link = nav.logs(f"Logs of {service.name}", nav.service_logs_query(service.name))
    traces_link = nav.traces(platform, f"Traces of {service.name} in Jaeger", service.name)

    if availability:
        # Warn at the rate that spends the budget exactly (burn rate 1), alarm at the page rate.
        err_thresholds = Thresholds.above(
            availability.error_budget,
            availability.error_budget * q.burn_lines(availability)[0].factor,
        )
    else:
        err_thresholds = Thresholds.above(0.01, 0.05)
    error_ratio = stat(
        "Error ratio now",
        Target(q.service_error_ratio(error_regex=error_regex), "errors"),
        id=P.ERROR_RATIO,
        unit="percentunit",
        decimals=2,
        sparkline=True,
        thresholds=err_thresholds,
        links=(
            nav.logs("Error logs", nav.service_logs_query(service.name, "log.level:(error OR critical)")),
        ),
        description=(
            f"Share of requests answered with a status matching {error_regex} over the last few scrapes. Orange: errors "
            "at the rate the SLO allows; red: at the fast-burn page rate. Next: errors by status, then the error logs "
            "(click the value)."
        ),
    )
    up = up_stat(
        "Targets up",
        Target(q.target_up(), "{{instance}}"),
        id=P.TARGET_UP,
        description=(
            "Whether Prometheus can scrape each instance. DOWN with no traffic drop: the metrics endpoint (or its token) "
            "is broken, not the service. DOWN with a traffic drop: the instance is gone; check the deployment."
        ),
    )
    slo = slo_panels(service)
    top: list[Panel] = [*slo[:2], error_ratio, up]
    requests = timeseries(
        "Requests by route",
        Target(q.service_requests(), "{{http_route}}"),
        id=P.REQUEST_RATE,
        unit="reqps",
        stack=True,
        legend="table",
        description=(
            "Requests per second by route template. A sudden drop to zero with no errors usually means traffic stopped "
            "reaching the service (load balancer, DNS): check Targets up and the blackbox probes."
        ),
    )
    by_status = timeseries(
        "Errors by status",
        Target(q.errors_by_status(), "{{http_response_status_code}}"),
        id=P.ERRORS_BY_STATUS,
        unit="reqps",
        stack=True,
        links=(
            nav.logs(
                "Logs with this status",
                nav.service_logs_query(
                    service.name,
                    f"{contract.LOG_FIELD_INDEX['http.response.status_code'].name}:${{__field.labels.http_response_status_code}}",
                ),
            ),
        ),
        description=(
            "4xx and 5xx responses per second by status code. 5xx are the service's fault and count against the SLO; "
            "a 4xx surge points at a client or a deploy that changed an API. Click a series for the matching log lines."
        ),
    )
    panels_traffic: list[Panel] = [requests, by_status]
    burn = slo[2:]
    in_flight = timeseries(
        "In-flight requests",
        Target(q.in_flight(), "{{http_request_method}}"),
        id=P.IN_FLIGHT,
        unit="short",
        description=(
            "Requests being served right now. A steady climb while traffic is flat means requests are stuck "
            "(a slow dependency, exhausted pool): check the PostgreSQL and Redis dashboards linked above."
        ),
    )
    by_route = table(
        "Failing routes (5xx over the range)",
        Target(q.errors_by_route(error_regex=error_regex), "{{http_route}}", instant=True, format="table"),
        unit="short",
        decimals=0,
        thresholds=Thresholds.above(None, 1),
        links=(
            nav.logs(
                "Error logs of this route",
                nav.service_logs_query(
                    service.name, 'http.route:"${__data.fields.http_route}" AND log.level:(error OR critical)'
                ),
            ),
            nav.traces(
                platform,
                "Traces of this route",
                service.name,
                tags={"http.route": "${__data.fields.http_route}", "error": "true"},
            ),
        ),
        description=(
            "Who is hit: the routes that answered with server errors over the time range, most first. One route: "
            "a feature or a dependency it alone uses; all routes: the service itself. Click a row for its error logs or traces."
        ),
    )
    # Who is hit sits beside the errors; three panels share the line under them.
    third = 8 if burn else 12
    panels_traffic += [
        with_width(by_route, third),
        *(with_width(b, third) for b in burn),
        with_width(in_flight, third),
    ]

    slo_threshold = (
        float(latency.sli.threshold_seconds) if latency and isinstance(latency.sli, LatencySLI) else None
    )
    # The routes the latency SLO leaves out (a report export, slow by design) are left out here
    # too: the panel LatencyP99High links to must show what that alert reads.
    excluded = latency.exclude_routes if latency else ()
    slow_traces = nav.traces(
        platform,
        "Slow traces in Jaeger",
        service.name,
        min_duration=_seconds_label(slo_threshold) if slo_threshold else "",
    )
    percentiles = timeseries(
        "Latency percentiles",
        *(
            Target(q.latency_quantile(p, exclude_routes=excluded), f"p{round(p * 100)}", exemplar=(p == 0.99))
            for p in (0.5, 0.9, 0.99)
        ),
        id=P.LATENCY_PERCENTILES,
        unit="s",
        thresholds=Thresholds.above(None, slo_threshold, style="dashed") if slo_threshold else None,
        links=(slow_traces,),
        description=(
            "p50/p90/p99 request duration for the selected routes"
            + (f" except {', '.join(excluded)}, which the latency SLO leaves out" if excluded else "")
            + ". "
            + (
                f"The dashed line is the latency SLO threshold ({_seconds_label(slo_threshold)}). "
                if slo_threshold
                else ""
            )
            + "The dots are exemplars: click one to open that request's trace in Jaeger, then its logs from the trace."
        ),
    )
    heat = heatmap(
        "Latency heatmap",
        Target(q.latency_heatmap(), "{{le}}", exemplar=True, format="heatmap"),
        id=P.LATENCY_HEATMAP,
        unit="s",
        cell_unit="reqps",
        description=(
            "Requests per second finishing in each duration bucket over time. A second band appearing above the usual one "
            "is a slow path (one route or one dependency). Exemplar dots open the trace of a request in that band."
        ),
    )
    slowest = table(
        "Slowest routes (p95 over the range)",
        Target(q.slowest_routes(), "{{http_route}}", instant=True, format="table"),
        id=P.SLOWEST_ROUTES,
        unit="s",
        thresholds=Thresholds.above(None, slo_threshold) if slo_threshold else None,
        links=(
            nav.traces(
                platform,
                "Traces of this route",
                service.name,
                tags={"http.route": "${__data.fields.http_route}"},
                min_duration=_seconds_label(slo_threshold) if slo_threshold else "",
            ),
        ),
        description=(
            "The ten routes with the highest p95 over the time range. Click a row for that route's slow traces in Jaeger; "
            "a route missing from the SLO (excluded) can still hurt users."
        ),
    )
    instr = timeseries(
        "Instrumentation errors",
        Target(q.instrumentation_errors(), "{{stage}}"),
        id=P.INSTRUMENTATION_ERRORS,
        unit="short",
        description=(
            "Errors the obs instrumentation swallowed so requests went on (per second, by stage). Not user-facing, but "
            "metrics, traces or logs of this service may be incomplete: tell the service's team."
        ),
    )
    width = 24 // len(top)
    top = [with_width(p, width) for p in top]
    dependency_links = tuple(
        nav.dashboard(f"{dep} dashboard", uid)
        for dep in service.depends_on
        for uid in [_dependency_uid(platform, dep)]
        if uid
    )
    return Dashboard(
        uid=uid,
        title=f"{platform.name} / {service.name}",
        description=f"{service.description or service.name} Owner: {service.team}, tier {service.tier}.",
        team=service.team,
        tags=("service", service.kind.value, f"tier:{service.tier}"),
        variables=(
            datasource_variable(prometheus_uid(env)),
            # One value on purpose: the SLO panels hold this service's objectives, so the variable
            # exists for links (var-service) and queries, not for switching services here.
            custom_variable("service", "Service", [service.name]),
            query_variable(
                "route",
                "Route",
                f'label_values({q.REQUESTS}{{{contract.SERVICE_LABEL}="$service"}}, {contract.ROUTE_LABEL})',
                multi=True,
                include_all=True,
                all_value=".*",
                default="$__all",
            ),
            nav.environment_variable(env),
        ),
        links=(
            logs_link,
            traces_link,
            nav.dashboard("Platform overview", links.OVERVIEW_UID),
            nav.dashboard("SLOs", links.SLO_UID, service=service.name),
            *dependency_links,
        ),
        annotations=(
            Annotation(
                "Firing alerts",
                q.firing_alerts(),
                "{{alertname}} ({{severity}})",
                tags=("alertname", "severity", "slo"),
            ),
        ),
        items=(
            *top,
            row("Traffic and errors", *panels_traffic),
            row("Latency", percentiles, heat, slowest, instr),
        ),
    )


def _dependency_uid(platform: Platform, name: str) -> str | None:
    for dep in platform.dependencies:
        if dep.name == name:
            return {"postgres": links.POSTGRES_UID, "redis": links.REDIS_UID}.get(dep.kind.value)
    for other in platform.services:
        if other.name == name and other.kind.instrumented:
            return links.service_dashboard_uid(other.name)
    return None


__all__ = ["service_dashboard", "slo_panels"]
