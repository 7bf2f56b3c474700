"""PostgreSQL (through postgres_exporter): down, connections, deadlocks, long transactions.

Thresholds are at the top, each with its reason."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, Fires, Series, Severity
from obs.catalogue.alerts._common import SVC, TEAM, dependency_alert, exporter_down_alert
from obs.model import Dependency, Platform
from obs.rules.testgen import Signal, num, threshold_cases

POSTGRES_CONNECTIONS_RATIO = 0.8  # above this, a deploy's extra pool can exhaust max_connections
POSTGRES_LONG_TRANSACTION_SECONDS = 300  # long transactions hold locks and stop autovacuum


def postgres_alerts(platform: Platform, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.POSTGRES_UID
    down = exporter_down_alert(
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
    conns = dependency_alert(
        platform,
        dep,
        "PostgresTooManyConnections",
        expr=(
            f"sum by (instance) (pg_stat_database_numbackends{{{job}}})\n"
            f"/ max by (instance) (pg_settings_max_connections{{{job}}}) > {num(POSTGRES_CONNECTIONS_RATIO)}"
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
            extra=[Series(f"pg_settings_max_connections{{{lab}}}", f"{num(max_conn)}x60")],
        )
    )
    deadlocks = dependency_alert(
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
    longtx = dependency_alert(
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


__all__ = ["POSTGRES_CONNECTIONS_RATIO", "POSTGRES_LONG_TRANSACTION_SECONDS", "postgres_alerts"]
