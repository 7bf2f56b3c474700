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
    "Alert": "obs.alerting",
    "AlertTest": "obs.alerting",
    "Severity": "obs.alerting",
    "AvailabilitySLI": "obs.model",
    "BuildResult": "obs.build",
    "Dependency": "obs.model",
    "Environment": "obs.model",
    "LatencySLI": "obs.model",
    "ModelError": "obs.errors",
    "ObsError": "obs.errors",
    "Platform": "obs.model",
    "PromQLError": "obs.errors",
    "SLO": "obs.model",
    "Service": "obs.model",
    "build": "obs.build",
    "load_platform": "obs.loader",
    "render": "obs.build",
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
