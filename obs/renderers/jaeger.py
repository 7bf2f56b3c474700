"""Jaeger v2 (an OpenTelemetry Collector distribution): OTLP in, Elasticsearch storage, the query
UI, and file-based sampling strategies rendered per service and route from the model.

Strategies follow Jaeger's documented JSON: a probabilistic default per service (the environment's
ratio), an operation strategy per route that matters (span names are ``METHOD route``, as the
instrumentation names server spans), and probability 0 for health checks and /metrics, which would
otherwise fill storage with traces nobody reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from obs.artifacts import Artifact, RenderContext
from obs.formats.conventions import HEALTH_ROUTES, OTLP_GRPC_PORT, OTLP_HTTP_PORT, own_endpoint
from obs.model import Environment, Platform, Service, TraceSampling

CONFIG_PATH = "jaeger/config.yaml"
STRATEGIES_PATH = "jaeger/sampling_strategies.json"
#: Where the deployment mounts the strategies file (the config refers to it by this path).
STRATEGIES_MOUNT = "/etc/jaeger/sampling_strategies.json"
STORAGE = "es_main"
HEALTH_METHODS: tuple[str, ...] = ("GET", "HEAD")
#: Methods a route that matters is sampled at its rate for (one operation each: Jaeger matches names exactly).
ROUTE_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: For services Jaeger hears from but the model does not list.
DEFAULT_RATIO = TraceSampling().default_ratio


def operation(method: str, route: str) -> str:
    """The span name of a server span, as the instrumentation writes it."""
    return f"{method} {route}"


def _probabilistic(param: float) -> dict[str, Any]:
    return {"type": "probabilistic", "param": float(param)}


def health_strategies() -> list[dict[str, Any]]:
    return [{"operation": operation(m, r), **_probabilistic(0.0)} for r in HEALTH_ROUTES for m in HEALTH_METHODS]


def service_strategy(platform: Platform, service: Service, env: Environment) -> dict[str, Any]:
    default = platform.sampling_ratio(service, env)
    ops = health_strategies()
    for route, ratio in sorted(service.sampling.routes.items()):
        if route in HEALTH_ROUTES:
            continue
        # Routes are listed to sample them *more*; where the environment samples everything
        # (dev, staging), a lower route rate would sample them less than the rest.
        ops.extend({"operation": operation(m, route), **_probabilistic(max(ratio, default))} for m in ROUTE_METHODS)
    return {"service": service.name, **_probabilistic(default), "operation_strategies": ops}


def strategies(platform: Platform, env: Environment) -> dict[str, Any]:
    return {
        "service_strategies": [service_strategy(platform, s, env) for s in platform.instrumented_services],
        "default_strategy": {**_probabilistic(DEFAULT_RATIO), "operation_strategies": health_strategies()},
    }


def _elasticsearch_login(platform: Platform) -> dict[str, Any]:
    """Basic auth with the password read from the mounted file (Jaeger v2's password_file)."""
    if not platform.elasticsearch_username:
        return {}
    return {"auth": {"basic": {"username": platform.elasticsearch_username, "password_file": platform.elasticsearch_password_file}}}


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    es_url = platform.elasticsearch_url.rstrip("/")
    index = {"date_layout": "2006-01-02", "rollover_frequency": "day", "shards": 3, "replicas": 1}
    query_port = urlparse(platform.jaeger_url).port or 16686
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "remote_sampling", "healthcheckv2"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]},
            },
            "telemetry": {"resource": {"service.name": "jaeger"}, "logs": {"level": "info"}},
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": own_endpoint(13133)}},
            "jaeger_query": {"storage": {"traces": STORAGE}, "http": {"endpoint": own_endpoint(query_port)}},
            "jaeger_storage": {
                "backends": {
                    STORAGE: {
                        "elasticsearch": {
                            "server_urls": [es_url],
                            **_elasticsearch_login(platform),
                            "indices": {
                                "index_prefix": f"{platform.name}-{env.name}",
                                "spans": index,
                                "services": index,
                                "dependencies": index,
                            },
                        }
                    }
                }
            },
            "remote_sampling": {
                # SDKs poll the strategies (jaeger_remote sampler); edits to the file apply within a minute.
                "file": {"path": STRATEGIES_MOUNT, "reload_interval": "1m"},
                "http": {"endpoint": own_endpoint(5778)},
                "grpc": {"endpoint": own_endpoint(5779)},
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": own_endpoint(OTLP_GRPC_PORT)},
                    "http": {"endpoint": own_endpoint(OTLP_HTTP_PORT)},
                }
            }
        },
        "processors": {"batch": {"send_batch_size": 1000, "timeout": "1s"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORAGE}},
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))
    yield Artifact(STRATEGIES_PATH, strategies(ctx.platform, ctx.env))


