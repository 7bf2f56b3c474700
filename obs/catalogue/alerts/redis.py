"""Redis (through redis_exporter): down, memory, evictions, rejected connections.

Thresholds are at the top, each with its reason."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity
from obs.catalogue.alerts._common import SVC, TEAM, dependency_alert, exporter_down_alert
from obs.model import Dependency, Platform
from obs.rules.testgen import Signal, num, threshold_cases

REDIS_MEMORY_RATIO = 0.9  # above this, Redis evicts or refuses writes (sessions, the bridge's queue)


def redis_alerts(platform: Platform, dep: Dependency) -> list[Alert]:
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    uid = links.REDIS_UID
    down = exporter_down_alert(
        platform,
        dep,
        "RedisDown",
        "redis_up",
        summary=f"Redis {dep.name} is down",
        description=f"redis_exporter on {{{{$labels.instance}}}} cannot reach {dep.name} ({dep.address}) for 2m: sessions and queues are gone.",
        dashboard_uid=uid,
        panel=links.RedisPanel.UP,
    )
    gib = 1024.0**3
    memory = dependency_alert(
        platform,
        dep,
        "RedisMemoryHigh",
        # `> 0` on maxmemory: 0 means unlimited, and a ratio to it means nothing.
        expr=f"redis_memory_used_bytes{{{job}}}\n/ (redis_memory_max_bytes{{{job}}} > 0) > {num(REDIS_MEMORY_RATIO)}",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} uses {{{{ $value | humanizePercentage }}}} of maxmemory",
        description=(
            f"{dep.name} on {{{{$labels.instance}}}} has used {{{{ $value | humanizePercentage }}}} of maxmemory for 5m "
            f"(threshold {REDIS_MEMORY_RATIO:.0%}): it will evict keys or refuse writes."
        ),
        dashboard_uid=uid,
        panel=links.RedisPanel.MEMORY,
        for_="5m",
    )
    memory = memory.with_tests(
        *threshold_cases(
            [Signal(f"redis_memory_used_bytes{{{lab}}}", 0.5 * gib, 0.95 * gib)],
            memory.for_,
            Fires(value=0.95, labels={"job": dep.name, "instance": inst}),
            extra=[Series(f"redis_memory_max_bytes{{{lab}}}", f"{num(gib)}x60")],
        ),
        AlertTest(
            "maxmemory 0 (unlimited) never alerts",
            (
                Series(f"redis_memory_used_bytes{{{lab}}}", f"{num(0.95 * gib)}x20"),
                Series(f"redis_memory_max_bytes{{{lab}}}", "0x20"),
            ),
            "15m",
        ),
    )
    evictions = dependency_alert(
        platform,
        dep,
        "RedisEvictions",
        expr=f"increase(redis_evicted_keys_total{{{job}}}[5m]) > 0",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} evicts keys",
        description=f"{dep.name} evicted {{{{ $value | humanize }}}} keys in the last 5m, and kept evicting for 10m: it is full, and sessions or queued jobs may be lost.",
        dashboard_uid=uid,
        panel=links.RedisPanel.EVICTIONS,
        for_="10m",
    )
    evictions = evictions.with_tests(
        *threshold_cases(
            [Signal(f"redis_evicted_keys_total{{{lab}}}", 0, 10, counter=True)],
            evictions.for_,
            Fires(value=50, labels={"job": dep.name, "instance": inst}),
            window_minutes=5,
        )
    )
    rejected = dependency_alert(
        platform,
        dep,
        "RedisRejectedConnections",
        expr=f"increase(redis_rejected_connections_total{{{job}}}[5m]) > 0",
        severity=Severity.TICKET,
        summary=f"Redis {dep.name} rejects connections",
        description=f"{dep.name} rejected {{{{ $value | humanize }}}} connections in the last 5m (maxclients reached), for 5m: clients see errors.",
        dashboard_uid=uid,
        panel=links.RedisPanel.REJECTED_CONNECTIONS,
        for_="5m",
    )
    rejected = rejected.with_tests(
        *threshold_cases(
            [Signal(f"redis_rejected_connections_total{{{lab}}}", 0, 2, counter=True)],
            rejected.for_,
            Fires(value=10, labels={"job": dep.name, "instance": inst}),
            window_minutes=5,
        )
    )
    return [down, memory, evictions, rejected]


__all__ = ["REDIS_MEMORY_RATIO", "redis_alerts"]
