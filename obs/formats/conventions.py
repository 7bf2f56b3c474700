"""Names the log and trace pipelines share, so no renderer reaches into another's internals.

Everything here is derived from :mod:`obs.contract` and the model: the handles of the log fields the
pipelines read (checked against the contract, so a rename fails the build loudly), the fields they
redact again, the data stream of each log class, and the routes never worth a trace.
"""

from __future__ import annotations

from obs import contract
from obs.errors import RenderError
from obs.model import Environment, Platform


def log_field(name: str) -> str:
    """A contract log field, checked: renaming it in the contract fails the build here, loudly,
    instead of leaving a pipeline that reads a field nobody writes."""
    if name not in contract.LOG_FIELD_INDEX:
        raise RenderError(f"{name!r} is not a log field of obs.contract.LOG_FIELDS")
    return name


TIMESTAMP = log_field("@timestamp")
MESSAGE = log_field("message")
LEVEL = log_field("log.level")
LOGGER = log_field("log.logger")
ECS_VERSION_FIELD = log_field("ecs.version")
SERVICE_NAME = log_field("service.name")
SERVICE_ENVIRONMENT = log_field("service.environment")

#: Fields the contract documents as redacted (free text and request data): the pipelines apply the
#: rules to them again, for lines from services that did not.
REDACTED_FIELDS: tuple[str, ...] = tuple(f.name for f in contract.LOG_FIELDS if f.redacted)

#: Probes and scrapes: frequent, uniform and uninteresting, so never traced or sampled.
HEALTH_ROUTES: tuple[str, ...] = contract.HEALTH_ROUTES
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318


def data_stream(platform: Platform, log_class: str, env: Environment) -> str:
    """The data stream a log class is written to in an environment: ``logs-<platform>.<class>-<env>``
    (the environment is the data stream namespace)."""
    return f"logs-{platform.name}.{log_class}-{env.name}"


def stream_pattern(platform: Platform, log_class: str) -> str:
    """Index pattern of a log class's data streams, whatever the environment."""
    return f"logs-{platform.name}.{log_class}-*"


__all__ = ["ECS_VERSION_FIELD", "HEALTH_ROUTES", "LEVEL", "LOGGER", "MESSAGE", "OTLP_GRPC_PORT", "OTLP_HTTP_PORT", "OWN_HOST", "REDACTED_FIELDS", "SERVICE_ENVIRONMENT", "SERVICE_NAME", "TIMESTAMP", "data_stream", "log_field", "own_endpoint", "stream_pattern"]


#: Where a collector-style server (Jaeger v2, the OpenTelemetry Collector) listens: its own host
#: name, which resolves to the container's (Compose) or the pod's (Kubernetes) own address, never
#: every interface. Both expand ``${env:...}`` when they read their configuration.
OWN_HOST = "${env:HOSTNAME}"


def own_endpoint(port: int) -> str:
    return f"{OWN_HOST}:{port}"
