"""obs: an observability stack as code.

One typed model of a platform (``obs.model``) and one metrics contract (``obs.contract``) render
Prometheus rules and scrape configuration, Alertmanager routing, Grafana dashboards and provisioning,
Fluentd/Logstash/Elasticsearch/Kibana log pipelines and Jaeger/OpenTelemetry Collector trace
pipelines. The instrumentation services import lives in the top-level ``instrumentation`` package.

Importing ``obs`` is cheap: the public names below are loaded on first use, so that
``instrumentation`` can import ``obs.contract`` without pulling the model, renderers or CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # defining a platform
    "AlertTuning": "obs.model",
    "Autoscaling": "obs.model",
    "AvailabilitySLI": "obs.model",
    "ComponentOverride": "obs.model",
    "Compose": "obs.model",
    "Dependency": "obs.model",
    "Environment": "obs.model",
    "Kubernetes": "obs.model",
    "LatencySLI": "obs.model",
    "Local": "obs.model",
    "MetricsStore": "obs.model",
    "Platform": "obs.model",
    "SLO": "obs.model",
    "Service": "obs.model",
    "Team": "obs.model",
    "TraceSampling": "obs.model",
    # writing the platform's own alerts
    "Alert": "obs.alerting",
    "AlertTest": "obs.alerting",
    "Fires": "obs.alerting",
    "Series": "obs.alerting",
    "Severity": "obs.alerting",
    "component_alert": "obs.alerting",
    "service_alert": "obs.alerting",
    # building
    "BuildResult": "obs.builder",
    "Project": "obs.loader",
    "build": "obs.builder",
    "load_platform": "obs.loader",
    "load_project": "obs.loader",
    "render": "obs.builder",
    # errors
    "ModelError": "obs.errors",
    "ObsError": "obs.errors",
    "PromQLError": "obs.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'obs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
