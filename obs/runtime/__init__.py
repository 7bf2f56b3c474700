"""Run a stack for real on 127.0.0.1: the process runtime under ``obs demo`` and the end-to-end tests.

- :mod:`obs.runtime.processes`: :class:`Supervisor` starts child processes with private folders and
  log files, waits for readiness, and stops all of them whatever happens;
- :mod:`obs.runtime.readiness`: readiness checks, bounded polling (:func:`wait_until`), free ports;
- :mod:`obs.runtime.binaries`: finds the server binaries or names the Debian package to install;
- :mod:`obs.runtime.servers`: launchers for Prometheus, Alertmanager, VictoriaMetrics, vmalert,
  PostgreSQL, Redis and the exporters;
- :mod:`obs.runtime.sinks`: in-process webhook and OTLP trace receivers;
- :mod:`obs.runtime.api`: a typed client for the servers' HTTP APIs.

Only the standard library and PyYAML are needed to import this package; the OTLP receiver imports
``grpcio`` and ``opentelemetry-proto`` when one is made.
"""

from obs.runtime.api import (
    Alert,
    AlertmanagerAPI,
    AmAlert,
    AmStatus,
    ApiError,
    Exemplar,
    ExemplarSeries,
    PrometheusAPI,
    Rule,
    RuleGroup,
    Sample,
    Series,
    Target,
    VictoriaMetricsAPI,
    VmalertAPI,
)
from obs.runtime.binaries import BINARIES, BinaryNotFoundError, available, find_binary, require
from obs.runtime.processes import ManagedProcess, ProcessError, Supervisor, parent_death_signal_supported
from obs.runtime.readiness import (
    NoFreePortError,
    Readiness,
    free_port,
    http_ready,
    log_says,
    ready_when,
    tcp_ready,
    wait_until,
)
from obs.runtime.servers import (
    NODE_COLLECTORS,
    PostgresServer,
    Server,
    start_alertmanager,
    start_blackbox_exporter,
    start_node_exporter,
    start_postgres,
    start_postgres_exporter,
    start_prometheus,
    start_redis,
    start_redis_exporter,
    start_victoria_metrics,
    start_vmalert,
)
from obs.runtime.sinks import Notification, OtlpReceiver, ReceivedSpan, WebhookSink

__all__ = [
    "BINARIES",
    "NODE_COLLECTORS",
    "Alert",
    "AlertmanagerAPI",
    "AmAlert",
    "AmStatus",
    "ApiError",
    "BinaryNotFoundError",
    "Exemplar",
    "ExemplarSeries",
    "ManagedProcess",
    "NoFreePortError",
    "Notification",
    "OtlpReceiver",
    "PostgresServer",
    "ProcessError",
    "PrometheusAPI",
    "Readiness",
    "ReceivedSpan",
    "Rule",
    "RuleGroup",
    "Sample",
    "Series",
    "Server",
    "Supervisor",
    "Target",
    "VictoriaMetricsAPI",
    "VmalertAPI",
    "WebhookSink",
    "available",
    "find_binary",
    "free_port",
    "http_ready",
    "log_says",
    "parent_death_signal_supported",
    "ready_when",
    "require",
    "start_alertmanager",
    "start_blackbox_exporter",
    "start_node_exporter",
    "start_postgres",
    "start_postgres_exporter",
    "start_prometheus",
    "start_redis",
    "start_redis_exporter",
    "start_victoria_metrics",
    "start_vmalert",
    "tcp_ready",
    "wait_until",
]
