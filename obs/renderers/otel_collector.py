"""OpenTelemetry Collector for the optional hop between the services and Jaeger.

What the hop adds over sending straight to Jaeger: a memory limit, redaction with the contract's
rules applied once for every service (sensitive attribute keys overwritten, personal data in any
value masked), health-check spans dropped, and tail sampling that keeps *every* error and every
trace slower than its service's latency SLO, plus the model's per-service and per-route ratios for
the rest. Tail sampling needs every span of a trace in one collector: run one replica, or put a
``loadbalancing`` exporter keyed on trace id in front.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.formats.conventions import HEALTH_ROUTES, OTLP_GRPC_PORT, OTLP_HTTP_PORT, own_endpoint
from obs.model import Environment, LatencySLI, Platform, Service

CONFIG_PATH = "otel-collector/config.yaml"
QUEUE_DIR = "/var/lib/otelcol/queue"
PROCESSORS: tuple[str, ...] = ("memory_limiter", "filter/health", "attributes/redact", "redaction", "tail_sampling", "batch")


def latency_threshold_ms(platform: Platform, service: Service) -> int:
    """The tightest latency SLO threshold of the service; services without one use the loosest
    threshold in the platform (slow for anyone), else the contract's largest bucket boundary."""
    own = [s.sli.threshold_seconds for s in service.slos if isinstance(s.sli, LatencySLI)]
    if own:
        return round(min(own) * 1000)
    every = [s.sli.threshold_seconds for svc in platform.services for s in svc.slos if isinstance(s.sli, LatencySLI)]
    return round((max(every) if every else max(contract.SLO_THRESHOLDS_SECONDS)) * 1000)


def _service_is(service: Service) -> dict[str, Any]:
    return {"name": f"{service.name}-only", "type": "string_attribute", "string_attribute": {"key": "service.name", "values": [service.name]}}


def _percent(ratio: float) -> float:
    return round(ratio * 100, 4)


def policies(platform: Platform, env: Environment) -> list[dict[str, Any]]:
    """Tail-sampling policies; a trace is kept when any of them says so."""
    out: list[dict[str, Any]] = [
        {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
    ]
    for service in platform.instrumented_services:
        threshold = latency_threshold_ms(platform, service)
        out.append(
            {
                "name": f"{service.name}-slower-than-slo",
                "type": "and",
                "and": {"and_sub_policy": [_service_is(service), {"name": "slow", "type": "latency", "latency": {"threshold_ms": threshold}}]},
            }
        )
        ratio = platform.sampling_ratio(service, env)
        out.append(
            {
                "name": f"{service.name}-baseline",
                "type": "and",
                "and": {
                    "and_sub_policy": [
                        _service_is(service),
                        {"name": "ratio", "type": "probabilistic", "probabilistic": {"sampling_percentage": _percent(ratio)}},
                    ]
                },
            }
        )
        for route, route_ratio in sorted(service.sampling.routes.items()):
            out.append(
                {
                    "name": f"{service.name}-route-{route.strip('/').replace('/', '-') or 'root'}",
                    "type": "and",
                    "and": {
                        "and_sub_policy": [
                            _service_is(service),
                            {"name": "route", "type": "string_attribute", "string_attribute": {"key": "http.route", "values": [route]}},
                            {
                                "name": "ratio",
                                "type": "probabilistic",
                                "probabilistic": {"sampling_percentage": _percent(max(route_ratio, ratio))},
                            },
                        ]
                    },
                }
            )
    return out


def jaeger_endpoint(platform: Platform) -> tuple[str, bool]:
    """host:port of Jaeger's OTLP/gRPC receiver, and whether the connection is plaintext:
    ``jaeger_otlp_endpoint``, else jaeger_url's host on the OTLP/gRPC port with jaeger_url's scheme."""
    if platform.jaeger_otlp_endpoint:
        given = urlparse(platform.jaeger_otlp_endpoint)
        return f"{given.hostname}:{given.port}", given.scheme == "http"
    parsed = urlparse(platform.jaeger_url)
    return f"{parsed.hostname}:{OTLP_GRPC_PORT}", parsed.scheme == "http"


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    endpoint, insecure = jaeger_endpoint(platform)
    health_conditions = [f'attributes["http.route"] == "{route}"' for route in HEALTH_ROUTES]
    return {
        "extensions": {
            "health_check": {"endpoint": own_endpoint(13133)},
            # The export queue lives on disk: a Jaeger outage or a collector restart loses nothing queued.
            "file_storage/queue": {"directory": QUEUE_DIR, "create_directory": True},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": own_endpoint(OTLP_GRPC_PORT)},
                    "http": {"endpoint": own_endpoint(OTLP_HTTP_PORT)},
                }
            }
        },
        "processors": {
            # First, so an overload refuses data (clients retry) before anything else allocates.
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
            "filter/health": {"error_mode": "ignore", "traces": {"span": health_conditions}},
            "attributes/redact": {
                # The key stays (so a dashboard can see it was set); its value never leaves.
                "actions": [
                    {"key": key, "action": "update", "value": contract.REDACTED} for key in sorted(contract.SENSITIVE_ATTRIBUTE_KEYS)
                ]
            },
            "redaction": {
                "allow_all_keys": True,
                "blocked_values": [rule.pattern for rule in contract.REDACTION_RULES],
                "summary": "info",
            },
            "tail_sampling": {
                "decision_wait": "10s",
                "num_traces": 50000,
                "expected_new_traces_per_sec": 100,
                "policies": policies(platform, env),
            },
            "batch": {"send_batch_size": 1000, "timeout": "1s"},
        },
        "exporters": {
            "otlp/jaeger": {
                "endpoint": endpoint,
                "tls": {"insecure": insecure},
                "sending_queue": {"enabled": True, "storage": "file_storage/queue", "queue_size": 5000},
                # 0 = retry until Jaeger is back; the bounded on-disk queue is what absorbs the outage.
                "retry_on_failure": {"enabled": True, "initial_interval": "1s", "max_interval": "30s", "max_elapsed_time": "0s"},
            }
        },
        "service": {
            "extensions": ["health_check", "file_storage/queue"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": list(PROCESSORS), "exporters": ["otlp/jaeger"]},
            },
        },
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))


