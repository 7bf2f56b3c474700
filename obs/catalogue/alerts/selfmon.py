"""The monitoring watching itself: rule evaluation, notifications, configuration reloads, and the
Watchdog (the dead man's switch).

| alert | severity | for | threshold (unit) | default |
|---|---|---|---|---|
| ``PrometheusRuleEvaluationFailures`` | page | 10m | failed evaluations of a group in 5m (more than) | 0 |
| ``PrometheusNotificationsFailing`` | page | 10m | share of alerts sent to an Alertmanager that failed (0-1) | 0.01 |
| ``PrometheusConfigReloadFailed`` | ticket | 10m | — | |
| ``AlertmanagerNotificationsFailing`` | page | 10m | share of notifications of an integration that failed (0-1) | 0.01 |
| ``AlertmanagerConfigReloadFailed`` | ticket | 10m | — | |
| ``Watchdog`` | info | 0s | not tunable: it exists while ``heartbeat_url`` is set | |

A model may retune them per environment (:mod:`obs.model.tuning`: Prometheus and Alertmanager
are no component of the model); the tests are built from the tuned values."""

from __future__ import annotations

from typing import Any

from obs import links
from obs.alerting import WATCHDOG, Alert, AlertTest, Fires, Series, Severity, component_alert
from obs.catalogue.alerts._common import SVC, TEAM, Threshold, Tuned, tuned
from obs.catalogue.alerts.postgres import per_minute_above
from obs.catalogue.alerts.targets import Job
from obs.model import Environment, Platform
from obs.rules.testgen import Signal, num, threshold_cases

NOTIFICATIONS_FAILED_RATIO = 0.01  # one failed send in a hundred: a receiver or the path to it is broken

ALERTS: dict[str, Threshold | None] = {
    "PrometheusRuleEvaluationFailures": Threshold(0, "failed evaluations in 5m", low_inclusive=True),
    "PrometheusNotificationsFailing": Threshold(NOTIFICATIONS_FAILED_RATIO, "share of sends failed (0-1)", 0, 1),
    "PrometheusConfigReloadFailed": None,
    "AlertmanagerNotificationsFailing": Threshold(NOTIFICATIONS_FAILED_RATIO, "share of notifications failed (0-1)", 0, 1),
    "AlertmanagerConfigReloadFailed": None,
}


def self_alerts(platform: Platform, env: Environment, prom: Job, am: Job) -> list[Alert]:
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

    def settings(job: Job, name: str, severity: Severity) -> Tuned | None:
        return tuned(platform, env, job.service, name, severity, "10m", ALERTS[name])

    def reload_failed(
        job: Job, product: str, selector: str, series_labels: str, consequence: str, panel: int
    ) -> Alert | None:
        # Prometheus and Alertmanager export the same reload gauge under their own prefix.
        metric = f"{product.lower()}_config_last_reload_successful"
        s = settings(job, f"{product}ConfigReloadFailed", Severity.TICKET)
        if s is None:
            return None
        alert = mk(
            job,
            f"{product}ConfigReloadFailed",
            expr=f"{metric}{{{selector}}} == 0",
            severity=s.severity,
            summary=f"{product} on {{{{$labels.instance}}}} could not reload its configuration",
            description=f"The last configuration reload of {{{{$labels.instance}}}} failed {s.for_} ago{consequence}",
            panel=panel,
            for_=s.for_,
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
        failed_per_minute: float,
        total_per_minute: int,
    ) -> Alert | None:
        # Prometheus (sends to Alertmanager) and Alertmanager (sends to receivers) count failed and
        # all sends per destination: the alert is the failed share of sends, per destination.
        s = settings(job, f"{product}NotificationsFailing", Severity.PAGE)
        if s is None:
            return None
        if failed_per_minute / total_per_minute <= s.threshold:
            failed_per_minute = total_per_minute * (1 + s.threshold) / 2
        selector = f'job="{job.name}"'
        series_labels = f'{selector}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}", {by}="{target}"'
        alert = mk(
            job,
            f"{product}NotificationsFailing",
            expr=(
                f"sum by (instance, {by}) (rate({failed}{{{selector}}}[5m]))\n"
                f"/ sum by (instance, {by}) (rate({total}{{{selector}}}[5m])) > {num(s.threshold)}"
            ),
            severity=s.severity,
            summary=summary,
            description=description.format(for_=s.for_),
            panel=links.AlertsPanel.NOTIFICATIONS,
            for_=s.for_,
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

    alerts: list[Alert | None] = []
    group_label = 'rule_group="/etc/prometheus/rules/slo-alerts.yml;edu"'
    s = settings(prom, "PrometheusRuleEvaluationFailures", Severity.PAGE)
    if s is not None:
        rule_failures = mk(
            prom,
            "PrometheusRuleEvaluationFailures",
            expr=f"sum by (instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{{{p}}}[5m])) > {num(s.threshold)}",
            severity=s.severity,
            summary="Prometheus fails to evaluate rule group {{$labels.rule_group}}",
            description=(
                "{{ $value | humanize }} evaluations of {{$labels.rule_group}} failed in the last 5m, "
                + (f"more than {num(s.threshold)} every 5m " if s.threshold else "")
                + f"for {s.for_}: the alerts of that group cannot fire."
            ),
            panel=links.AlertsPanel.RULE_FAILURES,
            for_=s.for_,
        )
        bad = per_minute_above(s.threshold, 5, 1)
        alerts.append(
            rule_failures.with_tests(
                *threshold_cases(
                    [
                        Signal(
                            f"prometheus_rule_evaluation_failures_total{{{plab}, {group_label}}}", 0, bad, counter=True
                        )
                    ],
                    rule_failures.for_,
                    Fires(
                        value=5 * bad,
                        labels={"instance": prom.instance, "rule_group": "/etc/prometheus/rules/slo-alerts.yml;edu"},
                    ),
                    window_minutes=5,
                )
            )
        )
    alerts.append(notifications_failing(
        prom,
        "Prometheus",
        failed="prometheus_notifications_errors_total",
        total="prometheus_notifications_sent_total",
        by="alertmanager",
        target="http://alertmanager:9093/api/v2/alerts",
        summary="Prometheus fails to send {{ $value | humanizePercentage }} of alerts to {{$labels.alertmanager}}",
        description="{{{{ $value | humanizePercentage }}}} of the alerts Prometheus sent to {{{{$labels.alertmanager}}}} failed over 5m, for {for_}: pages may never arrive.",
        failed_per_minute=30,
        total_per_minute=60,
    ))
    alerts.append(reload_failed(
        prom,
        "Prometheus",
        p,
        plab,
        " and the old rules still run: the latest rule change is not live.",
        links.AlertsPanel.CONFIG_RELOADS,
    ))
    alerts.append(notifications_failing(
        am,
        "Alertmanager",
        failed="alertmanager_notifications_failed_total",
        total="alertmanager_notifications_total",
        by="integration",
        target="pagerduty",
        summary="Alertmanager fails to deliver {{ $value | humanizePercentage }} of {{$labels.integration}} notifications",
        description="{{{{ $value | humanizePercentage }}}} of {{{{$labels.integration}}}} notifications failed over 5m, for {for_}: check the receiver's credentials and reachability.",
        failed_per_minute=6,
        total_per_minute=24,
    ))
    alerts.append(reload_failed(
        am,
        "Alertmanager",
        a,
        alab,
        ": routing and receivers are those of the previous configuration.",
        links.AlertsPanel.CONFIG_RELOADS,
    ))
    if platform.heartbeat_url:
        alerts.append(watchdog_alert(platform, prom))
    return [a for a in alerts if a is not None]


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


__all__ = ["self_alerts", "watchdog_alert"]
