"""PostgreSQL (through postgres_exporter): down, connections, deadlocks, long transactions.

| alert | severity | for | threshold (unit) | default |
|---|---|---|---|---|
| ``PostgresDown`` | page | 2m | — | |
| ``PostgresTooManyConnections`` | ticket | 5m | share of ``max_connections`` in use (0-1) | 0.8 |
| ``PostgresDeadlocks`` | ticket | 10m | deadlocks in 5m (more than) | 0 |
| ``PostgresLongRunningTransaction`` | ticket | 5m | seconds the longest transaction has run | 300 |

Thresholds are at the top, each with its reason; a model may retune them per database or
environment (:mod:`obs.model.tuning`), and the tests are built from the tuned values."""

from __future__ import annotations

import math

from obs import links
from obs.alerting import Alert, Fires, Series, Severity
from obs.catalogue.alerts._common import (
    SVC,
    TEAM,
    Threshold,
    Tuned,
    dependency_alert,
    exporter_down_alert,
    percent,
    tuned,
)
from obs.model import Dependency, Environment, Platform
from obs.rules.testgen import Signal, num, threshold_cases

POSTGRES_CONNECTIONS_RATIO = 0.8  # above this, a deploy's extra pool can exhaust max_connections
POSTGRES_LONG_TRANSACTION_SECONDS = 300  # long transactions hold locks and stop autovacuum

ALERTS: dict[str, Threshold | None] = {
    "PostgresDown": None,
    "PostgresTooManyConnections": Threshold(POSTGRES_CONNECTIONS_RATIO, "share of max_connections (0-1)", 0, 1),
    "PostgresDeadlocks": Threshold(0, "deadlocks in 5m", low_inclusive=True),
    "PostgresLongRunningTransaction": Threshold(POSTGRES_LONG_TRANSACTION_SECONDS, "seconds"),
}


def per_minute_above(threshold: float, window_minutes: int, at_least: float) -> float:
    """A counter's increase per minute that puts ``increase(...[window])`` above ``threshold``."""
    return max(at_least, math.floor(threshold / window_minutes) + 1)


def postgres_alerts(platform: Platform, env: Environment, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.POSTGRES_UID
    alerts: list[Alert] = []

    def settings(name: str, severity: Severity, for_: str) -> Tuned | None:
        return tuned(platform, env, dep.name, name, severity, for_, ALERTS[name])

    if s := settings("PostgresDown", Severity.PAGE, "2m"):
        alerts.append(
            exporter_down_alert(
                platform,
                dep,
                "PostgresDown",
                "pg_up",
                summary=f"PostgreSQL {dep.name} is down",
                description=f"postgres_exporter on {{{{$labels.instance}}}} cannot connect to {dep.name} ({dep.address}) for {s.for_}: every service using it fails.",
                dashboard_uid=uid,
                panel=links.PostgresPanel.UP,
                severity=s.severity,
                for_=s.for_,
            )
        )
    if s := settings("PostgresTooManyConnections", Severity.TICKET, "5m"):
        max_conn = 100.0
        conns = dependency_alert(
            platform,
            dep,
            "PostgresTooManyConnections",
            expr=(
                f"sum by (instance) (pg_stat_database_numbackends{{{job}}})\n"
                f"/ max by (instance) (pg_settings_max_connections{{{job}}}) > {num(s.threshold)}"
            ),
            severity=s.severity,
            summary=f"PostgreSQL {dep.name} uses {{{{ $value | humanizePercentage }}}} of max_connections",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of max_connections on {{{{$labels.instance}}}} are in use for {s.for_} "
                f"(threshold {percent(s.threshold)}); new connections will soon be refused. Look for leaking pools."
            ),
            dashboard_uid=uid,
            panel=links.PostgresPanel.CONNECTIONS,
            for_=s.for_,
        )
        # A quarter of the threshold in use when healthy; half-way from it to all when not.
        good, bad = max_conn * s.threshold / 4, (max_conn + max_conn * s.threshold) / 2
        alerts.append(
            conns.with_tests(
                *threshold_cases(
                    [Signal(f'pg_stat_database_numbackends{{{lab}, datname="app"}}', good, bad)],
                    conns.for_,
                    Fires(value=bad / max_conn, labels={"instance": inst}),
                    extra=[Series(f"pg_settings_max_connections{{{lab}}}", f"{num(max_conn)}x60")],
                )
            )
        )
    if s := settings("PostgresDeadlocks", Severity.TICKET, "10m"):
        deadlocks = dependency_alert(
            platform,
            dep,
            "PostgresDeadlocks",
            expr=f"sum by (instance, datname) (increase(pg_stat_database_deadlocks{{{job}}}[5m])) > {num(s.threshold)}",
            severity=s.severity,
            summary=f"PostgreSQL {dep.name} database {{{{$labels.datname}}}} keeps deadlocking",
            description=(
                "{{ $value | humanize }} deadlocks in the last 5m on {{$labels.datname}} ({{$labels.instance}}), "
                f"and {'deadlocks' if s.threshold == 0 else f'more than {num(s.threshold)} deadlocks'} every 5m for {s.for_}: "
                "two code paths lock rows in opposite orders."
            ),
            dashboard_uid=uid,
            panel=links.PostgresPanel.DEADLOCKS,
            for_=s.for_,
        )
        bad = per_minute_above(s.threshold, 5, 1)
        alerts.append(
            deadlocks.with_tests(
                *threshold_cases(
                    [Signal(f'pg_stat_database_deadlocks{{{lab}, datname="app"}}', 0, bad, counter=True)],
                    deadlocks.for_,
                    Fires(value=5 * bad, labels={"instance": inst, "datname": "app"}),
                    window_minutes=5,
                )
            )
        )
    if s := settings("PostgresLongRunningTransaction", Severity.TICKET, "5m"):
        longtx = dependency_alert(
            platform,
            dep,
            "PostgresLongRunningTransaction",
            expr=f"max by (instance, datname) (pg_stat_activity_max_tx_duration{{{job}}}) > {num(s.threshold)}",
            severity=s.severity,
            summary=f"PostgreSQL {dep.name}: a transaction on {{{{$labels.datname}}}} has run for {{{{ $value | humanizeDuration }}}}",
            description=(
                f"The longest transaction on {{{{$labels.datname}}}} ({{{{$labels.instance}}}}) has been open for {{{{ $value | humanizeDuration }}}} "
                f"(threshold {num(s.threshold / 60)}m): it holds locks and blocks vacuum."
            ),
            dashboard_uid=uid,
            panel=links.PostgresPanel.LONGEST_TRANSACTION,
            for_=s.for_,
        )
        good, bad = min(2.0, s.threshold / 2), 3 * s.threshold
        alerts.append(
            longtx.with_tests(
                *threshold_cases(
                    [Signal(f'pg_stat_activity_max_tx_duration{{{lab}, datname="app", state="active"}}', good, bad)],
                    longtx.for_,
                    Fires(value=bad, labels={"instance": inst, "datname": "app"}),
                )
            )
        )
    return alerts


__all__ = ["ALERTS", "POSTGRES_CONNECTIONS_RATIO", "POSTGRES_LONG_TRANSACTION_SECONDS", "per_minute_above", "postgres_alerts"]
