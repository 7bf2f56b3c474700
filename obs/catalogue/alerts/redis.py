"""Redis (through redis_exporter): down, memory, evictions, rejected connections.

| alert | severity | for | threshold (unit) | default |
|---|---|---|---|---|
| ``RedisDown`` | page | 2m | — | |
| ``RedisMemoryHigh`` | ticket | 5m | share of ``maxmemory`` used (0-1) | 0.9 |
| ``RedisEvictions`` | ticket | 10m | keys evicted in 5m (more than) | 0 |
| ``RedisRejectedConnections`` | ticket | 5m | connections rejected in 5m (more than) | 0 |

Thresholds are at the top, each with its reason; a model may retune them per instance or
environment (:mod:`obs.model.tuning`), and the tests are built from the tuned values."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity
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
from obs.catalogue.alerts.postgres import per_minute_above
from obs.model import Dependency, Environment, Platform
from obs.rules.testgen import Signal, num, threshold_cases

REDIS_MEMORY_RATIO = 0.9  # above this, Redis evicts or refuses writes (sessions, the bridge's queue)

ALERTS: dict[str, Threshold | None] = {
    "RedisDown": None,
    "RedisMemoryHigh": Threshold(REDIS_MEMORY_RATIO, "share of maxmemory (0-1)", 0, 1),
    "RedisEvictions": Threshold(0, "keys evicted in 5m", low_inclusive=True),
    "RedisRejectedConnections": Threshold(0, "connections rejected in 5m", low_inclusive=True),
}


def _more_than(threshold: float, what: str) -> str:
    return what if threshold == 0 else f"more than {num(threshold)} {what}"


def redis_alerts(platform: Platform, env: Environment, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.REDIS_UID
    alerts: list[Alert] = []

    def settings(name: str, severity: Severity, for_: str) -> Tuned | None:
        return tuned(platform, env, dep.name, name, severity, for_, ALERTS[name])

    if s := settings("RedisDown", Severity.PAGE, "2m"):
        alerts.append(
            exporter_down_alert(
                platform,
                dep,
                "RedisDown",
                "redis_up",
                summary=f"Redis {dep.name} is down",
                description=f"redis_exporter on {{{{$labels.instance}}}} cannot reach {dep.name} ({dep.address}) for {s.for_}: sessions and queues are gone.",
                dashboard_uid=uid,
                panel=links.RedisPanel.UP,
                severity=s.severity,
                for_=s.for_,
            )
        )
    if s := settings("RedisMemoryHigh", Severity.TICKET, "5m"):
        gib = 1024.0**3
        memory = dependency_alert(
            platform,
            dep,
            "RedisMemoryHigh",
            # `> 0` on maxmemory: 0 means unlimited, and a ratio to it means nothing.
            expr=f"redis_memory_used_bytes{{{job}}}\n/ (redis_memory_max_bytes{{{job}}} > 0) > {num(s.threshold)}",
            severity=s.severity,
            summary=f"Redis {dep.name} uses {{{{ $value | humanizePercentage }}}} of maxmemory",
            description=(
                f"{dep.name} on {{{{$labels.instance}}}} has used {{{{ $value | humanizePercentage }}}} of maxmemory for {s.for_} "
                f"(threshold {percent(s.threshold)}): it will evict keys or refuse writes."
            ),
            dashboard_uid=uid,
            panel=links.RedisPanel.MEMORY,
            for_=s.for_,
        )
        # Half full when healthy (or half the threshold, when that is lower); half-way from the
        # threshold to full when not.
        good, bad = (0.5 if s.threshold > 0.5 else s.threshold / 2), (1 + s.threshold) / 2
        alerts.append(
            memory.with_tests(
                *threshold_cases(
                    [Signal(f"redis_memory_used_bytes{{{lab}}}", good * gib, bad * gib)],
                    memory.for_,
                    Fires(value=bad, labels={"job": dep.name, "instance": inst}),
                    extra=[Series(f"redis_memory_max_bytes{{{lab}}}", f"{num(gib)}x60")],
                ),
                AlertTest(
                    "maxmemory 0 (unlimited) never alerts",
                    (
                        Series(f"redis_memory_used_bytes{{{lab}}}", f"{num(bad * gib)}x20"),
                        Series(f"redis_memory_max_bytes{{{lab}}}", "0x20"),
                    ),
                    "15m",
                ),
            )
        )
    if s := settings("RedisEvictions", Severity.TICKET, "10m"):
        evictions = dependency_alert(
            platform,
            dep,
            "RedisEvictions",
            expr=f"increase(redis_evicted_keys_total{{{job}}}[5m]) > {num(s.threshold)}",
            severity=s.severity,
            summary=f"Redis {dep.name} evicts keys",
            description=(
                f"{dep.name} evicted {{{{ $value | humanize }}}} keys in the last 5m, and kept evicting "
                f"{_more_than(s.threshold, 'keys')} every 5m for {s.for_}: it is full, and sessions or queued jobs may be lost."
                if s.threshold
                else f"{dep.name} evicted {{{{ $value | humanize }}}} keys in the last 5m, and kept evicting for {s.for_}: "
                "it is full, and sessions or queued jobs may be lost."
            ),
            dashboard_uid=uid,
            panel=links.RedisPanel.EVICTIONS,
            for_=s.for_,
        )
        bad = per_minute_above(s.threshold, 5, 10)
        alerts.append(
            evictions.with_tests(
                *threshold_cases(
                    [Signal(f"redis_evicted_keys_total{{{lab}}}", 0, bad, counter=True)],
                    evictions.for_,
                    Fires(value=5 * bad, labels={"job": dep.name, "instance": inst}),
                    window_minutes=5,
                )
            )
        )
    if s := settings("RedisRejectedConnections", Severity.TICKET, "5m"):
        rejected = dependency_alert(
            platform,
            dep,
            "RedisRejectedConnections",
            expr=f"increase(redis_rejected_connections_total{{{job}}}[5m]) > {num(s.threshold)}",
            severity=s.severity,
            summary=f"Redis {dep.name} rejects connections",
            description=(
                f"{dep.name} rejected {{{{ $value | humanize }}}} connections in the last 5m (maxclients reached), "
                f"{_more_than(s.threshold, 'connections')} every 5m for {s.for_}: clients see errors."
                if s.threshold
                else f"{dep.name} rejected {{{{ $value | humanize }}}} connections in the last 5m (maxclients reached), "
                f"for {s.for_}: clients see errors."
            ),
            dashboard_uid=uid,
            panel=links.RedisPanel.REJECTED_CONNECTIONS,
            for_=s.for_,
        )
        bad = per_minute_above(s.threshold, 5, 2)
        alerts.append(
            rejected.with_tests(
                *threshold_cases(
                    [Signal(f"redis_rejected_connections_total{{{lab}}}", 0, bad, counter=True)],
                    rejected.for_,
                    Fires(value=5 * bad, labels={"job": dep.name, "instance": inst}),
                    window_minutes=5,
                )
            )
        )
    return alerts


__all__ = ["ALERTS", "REDIS_MEMORY_RATIO", "redis_alerts"]
