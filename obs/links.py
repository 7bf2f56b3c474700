"""Stable dashboard and panel identities, shared by the dashboards and the alerts.

An alert's ``dashboard_url`` must land on the panel that explains it; the dashboards must keep
those uids and panel ids. Both sides import them from here, so neither can move without the other.
"""

from __future__ import annotations

from enum import IntEnum
from urllib.parse import quote, urlencode

OVERVIEW_UID = "obs-overview"
SLO_UID = "obs-slo"
POSTGRES_UID = "obs-postgres"
REDIS_UID = "obs-redis"
NODE_UID = "obs-node"
BLACKBOX_UID = "obs-blackbox"
ALERTS_UID = "obs-alerts"


def service_dashboard_uid(service: str) -> str:
    """One dashboard per instrumented service (templated by environment and route)."""
    return f"obs-svc-{service}"


class ServicePanel(IntEnum):
    REQUEST_RATE = 1
    ERROR_RATIO = 2
    ERRORS_BY_STATUS = 3
    LATENCY_PERCENTILES = 4
    LATENCY_HEATMAP = 5
    IN_FLIGHT = 6
    SLOWEST_ROUTES = 7
    SLO_STATUS = 8
    ERROR_BUDGET = 9
    BURN_RATE = 10
    TARGET_UP = 11
    INSTRUMENTATION_ERRORS = 12


class SLOPanel(IntEnum):
    BUDGET_REMAINING = 1
    BUDGET_BURN = 2
    BURN_RATE_WINDOWS = 3
    ALERT_STATE = 4


class PostgresPanel(IntEnum):
    UP = 1
    CONNECTIONS = 2
    DEADLOCKS = 3
    LONGEST_TRANSACTION = 4
    TRANSACTIONS = 5
    CACHE_HIT_RATIO = 6


class RedisPanel(IntEnum):
    UP = 1
    MEMORY = 2
    EVICTIONS = 3
    REJECTED_CONNECTIONS = 4
    CLIENTS = 5
    HIT_RATIO = 6


class NodePanel(IntEnum):
    FILESYSTEM = 1
    MEMORY = 2
    CPU = 3
    LOAD = 4


class BlackboxPanel(IntEnum):
    PROBE_SUCCESS = 1
    PROBE_LATENCY = 2
    TLS_EXPIRY = 3
    HTTP_STATUS = 4


class AlertsPanel(IntEnum):
    FIRING = 1
    TARGETS_DOWN = 2
    RULE_FAILURES = 3
    NOTIFICATIONS = 4
    CONFIG_RELOADS = 5
    TARGETS_PER_JOB = 6


def dashboard_url(grafana_url: str, uid: str, panel: int | None = None, **variables: str) -> str:
    """A Grafana link to a dashboard, optionally to one panel, with template variables set.

    Variable values may be alert templates written without spaces, such as ``{{$labels.service}}``;
    braces and ``$`` are kept verbatim so Prometheus can expand them.
    """
    params: list[tuple[str, str]] = []
    if panel is not None:
        params.append(("viewPanel", str(int(panel))))
    params.extend((f"var-{k}", v) for k, v in sorted(variables.items()))
    query = urlencode(params, safe="{}$.", quote_via=quote) if params else ""
    return f"{grafana_url.rstrip('/')}/d/{uid}" + (f"?{query}" if query else "")


__all__ = [
    "ALERTS_UID",
    "BLACKBOX_UID",
    "NODE_UID",
    "OVERVIEW_UID",
    "POSTGRES_UID",
    "REDIS_UID",
    "SLO_UID",
    "AlertsPanel",
    "BlackboxPanel",
    "NodePanel",
    "PostgresPanel",
    "RedisPanel",
    "SLOPanel",
    "ServicePanel",
    "dashboard_url",
    "service_dashboard_uid",
]
