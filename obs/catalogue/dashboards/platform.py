"""The cross-service dashboards: the platform overview, the SLO dashboard and the alerts overview."""

from __future__ import annotations

from obs import contract, links
from obs.alerting import WATCHDOG
from obs.catalogue.dashboards import navigation as nav
from obs.catalogue.dashboards import queries as q
from obs.catalogue.dashboards.panels import up_stat, with_width
from obs.catalogue.dashboards.recordings import slo_recordings
from obs.grafana import (
    Dashboard,
    Panel,
    Target,
    Thresholds,
    ValueText,
    bargauge,
    custom_variable,
    datasource_variable,
    row,
    stat,
    state_timeline,
    table,
    timeseries,
)
from obs.grafana.provisioning import prometheus_uid
from obs.model import AvailabilitySLI, Environment, Platform, Service
from obs.slo import SLO_LABEL

#: Folder of the dashboards no single service team owns.
PLATFORM_FOLDER = "platform"
#: The SLO dashboard's variable picking SLOs; it filters the recordings' label of the same name.
SLO_VARIABLE = SLO_LABEL


def _service_row(service: Service) -> list[Panel]:
    to_dashboard = (nav.dashboard(f"{service.name} dashboard", links.service_dashboard_uid(service.name)),)
    availability = next((s for s in service.slos if isinstance(s.sli, AvailabilitySLI)), None)
    error_regex = (
        availability.sli.error_status_regex
        if availability and isinstance(availability.sli, AvailabilitySLI)
        else "5.."
    )
    panels: list[Panel] = []
    recorded = [(slo, slo_recordings(service, slo)) for slo in service.slos]
    if recorded:
        panels.append(
            stat(
                "SLO attainment",
                *(
                    q.slo_attainment(r).target(slo.name, thresholds=Thresholds.below(slo.objective))
                    for slo, r in recorded
                ),
                unit="percentunit",
                decimals=3,
                width=4,
                height=4,
                panel_links=to_dashboard,
                description=f"{service.name}: good requests over each SLO window. Red: the objective is missed. Open the service dashboard.",
            )
        )
        panels.append(
            stat(
                "Budget left",
                *(q.slo_budget_remaining(r).target(slo.name) for slo, r in recorded),
                unit="percentunit",
                decimals=1,
                width=4,
                height=4,
                thresholds=Thresholds.below(0.0, 0.25),
                panel_links=to_dashboard,
                description=f"{service.name}: error budget left in the window. Under 25%: slow down risky changes; negative: SLO breached.",
            )
        )
        fast, slow = q.burn_lines(service.slos[0])
        panels.append(
            stat(
                f"Burn rate {fast.long_window}",
                *(q.slo_burn_rate(r, fast.long_window).target(slo.name) for slo, r in recorded),
                unit="x",
                decimals=1,
                width=4,
                height=4,
                thresholds=Thresholds.above(slow.factor, fast.factor),
                panel_links=to_dashboard,
                description=(
                    f"{service.name}: how fast the budget burns over the last {fast.long_window} (1 = exactly spent over "
                    f"the window). Red from {fast.factor:g}: the fast-burn alert {q.acts(fast)} there. Open the service "
                    "dashboard to see what fails."
                ),
            )
        )
    panels.append(
        stat(
            "Traffic",
            Target(q.platform_requests(service.name), "req/s"),
            unit="reqps",
            width=4,
            height=4,
            sparkline=True,
            panel_links=to_dashboard,
            description=f"{service.name}: requests per second. A drop to zero with no errors means traffic no longer reaches it.",
        )
    )
    panels.append(
        stat(
            "Errors",
            Target(q.platform_error_ratio(service.name, error_regex), "errors"),
            unit="percentunit",
            decimals=2,
            width=4,
            height=4,
            sparkline=True,
            thresholds=Thresholds.above(
                availability.error_budget,
                availability.error_budget * q.burn_lines(availability)[0].factor,
            )
            if availability
            else Thresholds.above(0.01, 0.05),
            panel_links=to_dashboard,
            description=f"{service.name}: share of responses matching {error_regex}. Orange: at the SLO's budget rate; red: at the page rate.",
        )
    )
    latency_slo = next((s for s in service.slos if not isinstance(s.sli, AvailabilitySLI)), None)
    threshold = float(getattr(latency_slo.sli, "threshold_seconds", 0)) if latency_slo else 0.0
    panels.append(
        stat(
            "p95 latency",
            Target(q.platform_p95(service.name), "p95"),
            unit="s",
            width=4,
            height=4,
            sparkline=True,
            thresholds=Thresholds.above(None, threshold) if threshold else None,
            panel_links=to_dashboard,
            description=f"{service.name}: 95th percentile request duration. Red above the latency SLO threshold; open the service dashboard's heatmap.",
        )
    )
    width = 24 // len(panels)
    return [with_width(p, width) for p in panels]


def overview_dashboard(platform: Platform, env: Environment) -> Dashboard:
    rows = [
        row(f"{service.name} — {service.team}, tier {service.tier}", *_service_row(service))
        for service in platform.instrumented_services
    ]
    if platform.probed_services:
        rows.append(
            row(
                "Probed from outside",
                up_stat(
                    "Probe success",
                    *(
                        Target(
                            f"min({q.selector('probe_success', {contract.SERVICE_LABEL: s.name})})", s.name
                        )
                        for s in platform.probed_services
                    ),
                    width=24,
                    height=4,
                    panel_links=(nav.dashboard("Blackbox probes", links.BLACKBOX_UID),),
                    description=(
                        "Whether each site answers the blackbox probe from outside. DOWN: users cannot reach it; open the "
                        "blackbox dashboard for the status code, latency and TLS expiry."
                    ),
                ),
            )
        )
    return Dashboard(
        uid=links.OVERVIEW_UID,
        title=f"{platform.name} / Platform overview",
        description="Every service's SLO status, error budget, burn rate, traffic, errors and latency. Start here.",
        team=PLATFORM_FOLDER,
        tags=("overview",),
        variables=(datasource_variable(prometheus_uid(env)),),
        links=(nav.dashboard("SLOs", links.SLO_UID), nav.dashboard("Alerts", links.ALERTS_UID)),
        items=tuple(rows),
    )


def slo_dashboard(platform: Platform, env: Environment) -> Dashboard:
    with_slos = [s for s in platform.instrumented_services if s.slos]
    pairs = [(s, slo) for s in with_slos for slo in s.slos]
    recorded = [slo_recordings(s, slo) for s, slo in pairs]
    # The recordings carry `service` and `slo` labels: one query per panel (per window) reads every
    # SLO, filtered by the variables of the same names, so an alert's `var-slo=latency` link shows
    # just that SLO and a tenth SLO adds no query.
    variables = (contract.SERVICE_LABEL, SLO_VARIABLE)
    legend = " ".join(f"{{{{{v}}}}}" for v in variables)

    P = links.SLOPanel
    items: list[Panel] = []
    if pairs:
        fast, slow = q.burn_lines(pairs[0][1])
        items += [
            bargauge(
                "Error budget left",
                q.slo_budget_remaining(recorded, variables).target(legend),
                id=P.BUDGET_REMAINING,
                unit="percentunit",
                min=-1,
                max=1,
                decimals=1,
                width=8,
                height=9,
                thresholds=Thresholds.below(0.0, 0.25),
                description=(
                    "Share of each SLO's error budget left over its window. Under 25%: slow down risky deploys of that "
                    "service. Negative: the SLO is breached; the owning team prioritises reliability work."
                ),
            ),
            timeseries(
                "Budget spent over the window",
                q.slo_budget_spent(recorded, variables).target(legend),
                id=P.BUDGET_BURN,
                unit="percentunit",
                width=16,
                height=9,
                thresholds=Thresholds.above(0.75, 1.0, style="dashed"),
                description=(
                    "Fraction of the budget spent over the rolling window, as it moved. A steep step is an incident; a "
                    "steady slope is a chronic problem. Above 100% the SLO is breached."
                ),
            ),
            timeseries(
                "Burn rate by window",
                *(
                    q.slo_burn_rate(recorded, window, variables).target(f"{legend} {window}")
                    for window in q.burn_windows(pairs[0][1])
                ),
                id=P.BURN_RATE_WINDOWS,
                unit="x",
                width=24,
                height=10,
                legend="table",
                thresholds=Thresholds.above(slow.factor, fast.factor, style="dashed"),
                description=(
                    "Budget burn rate over each alert window (1 = spent exactly over the SLO window). The fast-burn "
                    f"alert {q.acts(fast)} with the {fast.long_window} and {fast.short_window} lines above the upper "
                    f"dashed line ({fast.factor:g}); the next one {q.acts(slow)} with the {slow.long_window} line (and "
                    f"its {slow.short_window} window) above the lower one ({slow.factor:g}). Slower alerts fire at "
                    "lower burn rates over longer windows. Pick a service and an SLO above to read fewer lines."
                ),
            ),
        ]
    items.append(
        state_timeline(
            "SLO alerts",
            Target(q.slo_alerts(), "{{alertname}} {{service}} {{slo}} {{alertstate}}"),
            id=P.ALERT_STATE,
            width=24,
            height=8,
            value_texts=(ValueText("1", "active", "red"),),
            description=(
                "When each alert of the selected services was pending or firing (from Prometheus's ALERTS series). "
                "Read it against the burn-rate lines: a firing alert with falling burn is recovering."
            ),
        )
    )
    names = [s.name for s in with_slos] or [s.name for s in platform.instrumented_services]
    return Dashboard(
        uid=links.SLO_UID,
        title=f"{platform.name} / SLOs",
        description="Error budgets, burn rates per alert window and SLO alert state for every service.",
        team=PLATFORM_FOLDER,
        tags=("slo",),
        variables=(
            datasource_variable(prometheus_uid(env)),
            custom_variable(
                "service", "Service", names, multi=True, include_all=True, all_value=".*", default="$__all"
            ),
            custom_variable(
                SLO_VARIABLE,
                "SLO",
                sorted({slo.name for _, slo in pairs}) or ["none"],
                multi=True,
                include_all=True,
                all_value=".*",
                default="$__all",
            ),
        ),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=tuple(items),
        time_from="now-7d",
    )


def alerts_dashboard(platform: Platform, env: Environment) -> Dashboard:
    P = links.AlertsPanel
    return Dashboard(
        uid=links.ALERTS_UID,
        title=f"{platform.name} / Alerts",
        description="What fires now, which targets are down, and whether alerts can reach people.",
        team=PLATFORM_FOLDER,
        tags=("alerts",),
        variables=(datasource_variable(prometheus_uid(env)),),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=(
            table(
                "Firing alerts",
                Target(
                    # Not the Watchdog: it always fires (the dead man's switch), by design.
                    f'sum by (alertname, service, severity, team) (ALERTS{{alertstate="firing", alertname!="{WATCHDOG}"}})',
                    instant=True,
                    format="table",
                ),
                id=P.FIRING,
                unit="short",
                width=14,
                height=9,
                description=(
                    "Every alert firing now, with its service, severity and team. Start with severity=page; each alert's "
                    "runbook and dashboard links are in its notification."
                ),
            ),
            table(
                "Targets down",
                Target("up == 0", instant=True, format="table"),
                id=P.TARGETS_DOWN,
                unit="short",
                width=10,
                height=9,
                description=(
                    "Scrape targets Prometheus cannot reach. Every alert on their metrics is blind until they are back: "
                    "fix these first (exporter down, token expired, network)."
                ),
            ),
            timeseries(
                "Rule evaluation failures",
                Target(
                    "sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total[$__rate_interval]))",
                    "{{rule_group}}",
                ),
                id=P.RULE_FAILURES,
                unit="short",
                thresholds=Thresholds.above(None, 0.0001),
                description=(
                    "Recording and alerting rules that fail to evaluate, per second by group. Any failure means an alert "
                    "may never fire: check the Prometheus log for the rule's error."
                ),
            ),
            timeseries(
                "Notification failures",
                Target(
                    "sum by (integration) (rate(alertmanager_notifications_failed_total[$__rate_interval]))",
                    "alertmanager → {{integration}}",
                ),
                Target(
                    "sum(rate(prometheus_notifications_errors_total[$__rate_interval]))",
                    "prometheus → alertmanager",
                ),
                id=P.NOTIFICATIONS,
                unit="short",
                thresholds=Thresholds.above(None, 0.0001),
                description=(
                    "Notifications that failed to leave Alertmanager (by integration) or to reach it from Prometheus. "
                    "Above zero, people are not being told: check receiver credentials and the Alertmanager log."
                ),
            ),
            timeseries(
                "Configuration reloads",
                Target(
                    "min by (instance) (prometheus_config_last_reload_successful)", "prometheus {{instance}}"
                ),
                Target(
                    "min by (instance) (alertmanager_config_last_reload_successful)", "alertmanager {{instance}}"
                ),
                id=P.CONFIG_RELOADS,
                unit="bool",
                thresholds=Thresholds.below(0.5),
                description=(
                    "Whether the last configuration reload of Prometheus and Alertmanager succeeded (1) or failed (0). "
                    "At 0 the previous rules, routes and receivers still run: the log names the line it rejected."
                ),
            ),
            table(
                "Targets per job",
                Target("count by (job) (up)", instant=True, format="table"),
                id=P.TARGETS_PER_JOB,
                unit="short",
                description=(
                    "The scrape jobs Prometheus has targets for, with how many. A job missing here left service "
                    "discovery or the scrape configuration (MetricsAbsent): nothing watches it."
                ),
            ),
            timeseries(
                "Pending and firing alerts",
                Target("sum by (alertstate) (ALERTS)", "{{alertstate}}"),
                unit="short",
                stack=True,
                width=24,
                description="How many alerts were pending or firing over time: since when things have been broken.",
            ),
        ),
        time_from="now-24h",
    )


__all__ = ["PLATFORM_FOLDER", "alerts_dashboard", "overview_dashboard", "slo_dashboard"]
