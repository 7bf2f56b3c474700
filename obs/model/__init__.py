"""The typed model of a platform: the single source every artifact is rendered from.

Objects are frozen dataclasses validated when built. A wrong value raises
:class:`~obs.errors.ModelError` naming the path of the field and the fix, e.g.
``slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)``. Loaders (YAML) and
containers prefix the path with where the object sits (``services[bridge].``).

The model knows nothing of YAML, JSON, PromQL or Grafana: renderers read it, it reads no renderer.
Field ``metadata["doc"]`` strings feed ``obs schema``.

    slo.py          SLIs and SLOs
    components.py   services, dependencies, teams, trace sampling, autoscaling
    environment.py  environments and their per-component overrides
    runtime.py      where an environment runs: Compose or Kubernetes
    store.py        a horizontally scaled metrics store
    tuning.py       switching catalogue alerts off or retuning them
    platform.py     the platform that holds them all
"""

from obs.model._base import (
    DEFAULT_ALERT_WEBHOOK_URL,
    DEFAULT_INFRA_TEAM,
    DEFAULT_SECRETS_DIR,
    RESERVED_NAMES,
    doc,
    format_duration,
    parse_duration,
)
from obs.model.components import (
    Autoscaling,
    Dependency,
    DependencyKind,
    Service,
    ServiceKind,
    Team,
    Tier,
    TraceSampling,
)
from obs.model.environment import DEFAULT_LOG_RETENTION, ENDPOINT_FIELDS, ComponentOverride, Environment
from obs.model.platform import Platform
from obs.model.runtime import Compose, Kubernetes, Local, Runtime
from obs.model.slo import SLI, SLO, AvailabilitySLI, LatencySLI
from obs.model.store import MetricsStore
from obs.model.tuning import NO_TUNING, AlertTuning

__all__ = [
    "DEFAULT_ALERT_WEBHOOK_URL",
    "ENDPOINT_FIELDS",
    "NO_TUNING",
    "RESERVED_NAMES",
    "AlertTuning",
    "Autoscaling",
    "Compose",
    "Kubernetes",
    "Local",
    "MetricsStore",
    "Runtime",
    "DEFAULT_INFRA_TEAM",
    "DEFAULT_LOG_RETENTION",
    "DEFAULT_SECRETS_DIR",
    "SLI",
    "SLO",
    "AvailabilitySLI",
    "ComponentOverride",
    "Dependency",
    "DependencyKind",
    "Environment",
    "LatencySLI",
    "Platform",
    "Service",
    "ServiceKind",
    "Team",
    "Tier",
    "TraceSampling",
    "doc",
    "format_duration",
    "parse_duration",
]
