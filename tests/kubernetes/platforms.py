"""A platform with one environment on each runtime, as a team on Kubernetes would write it."""

from __future__ import annotations

from typing import Literal

from obs.model import (
    SLO,
    Autoscaling,
    AvailabilitySLI,
    ComponentOverride,
    Dependency,
    DependencyKind,
    Environment,
    Kubernetes,
    Platform,
    Service,
    ServiceKind,
    Team,
)

NAMESPACE = "shop-production"
RECEIVERS = "/etc/alertmanager/secrets/alert-receivers"


def shop(prometheus: Literal["operator", "plain"] = "operator") -> Platform:
    """``dev`` on Compose, ``prod`` on Kubernetes watched by ``prometheus``: an API behind an
    autoscaler with a metrics token, a worker found by its own labels and port, a probed site,
    PostgreSQL and Redis."""
    return Platform(
        name="shop",
        runbook_base_url="https://runbooks.shop.example",
        infra_team="ops",
        teams=(
            Team("core", chat_channel="#core", pager_key_file=f"{RECEIVERS}/core-pager-key", chat_webhook_url_file=f"{RECEIVERS}/core-slack"),
            Team("ops", chat_channel="#ops", pager_key_file=f"{RECEIVERS}/ops-pager-key", chat_webhook_url_file=f"{RECEIVERS}/ops-slack"),
        ),
        services=(
            Service(
                name="api",
                kind=ServiceKind.FASTAPI,
                team="core",
                port=8000,
                metrics_token_file="/etc/prometheus/secrets/api-metrics/token",
                slos=(SLO("availability", AvailabilitySLI(), 0.999),),
                autoscaling=Autoscaling(min_replicas=2, max_replicas=4),
            ),
            Service(name="worker", kind=ServiceKind.FLASK, team="core", port=5000),
            Service(name="site", kind=ServiceKind.STATIC_SITE, team="core", probe_url="https://shop.example/"),
        ),
        dependencies=(
            Dependency(name="postgres", kind=DependencyKind.POSTGRES, team="ops", address="postgres:5432"),
            Dependency(name="redis", kind=DependencyKind.REDIS, team="ops", address="redis:6379"),
        ),
        environments=(
            Environment(name="dev", paging=False),
            Environment(
                name="prod",
                runtime=Kubernetes(
                    namespace=NAMESPACE,
                    cluster="eu-prod",
                    namespace_labels={"app": "shop", "environment": "production"},
                    prometheus=prometheus,
                ),
                overrides={
                    "api": ComponentOverride(autoscaling=Autoscaling(min_replicas=3, max_replicas=10, cpu_percent=70, requests_per_pod=12.5)),
                    "worker": ComponentOverride(selector={"app.kubernetes.io/name": "shop-worker"}, port_name="metrics"),
                },
            ),
        ),
    )


__all__ = ["NAMESPACE", "RECEIVERS", "shop"]
