"""Platforms with a metrics store, for the scale-out tests (imported by the tests of this folder)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from obs.model import (
    SLO,
    AvailabilitySLI,
    ComponentOverride,
    Compose,
    Dependency,
    Environment,
    Kubernetes,
    MetricsStore,
    Platform,
    Service,
    Team,
)

REPO = Path(__file__).parents[2]

VM = MetricsStore(kind="victoriametrics", write_url="http://vm.example.org:8428/api/v1/write", query_url="http://vm.example.org:8428")
MIMIR = MetricsStore(
    kind="mimir",
    write_url="https://mimir.example.org/api/v1/push",
    query_url="https://mimir.example.org/prometheus",
    tenant="shop-prod",
    basic_auth_username="shop",
    basic_auth_password_file="/etc/prometheus/secrets/mimir-password",
)
THANOS = MetricsStore(
    kind="thanos",
    write_url="https://receive.example.org/api/v1/receive",
    query_url="https://query.example.org",
    tenant="shop-prod",
    bearer_token_file="/etc/prometheus/secrets/thanos-token",
)
STORES = {"victoriametrics": VM, "mimir": MIMIR, "thanos": THANOS}


def shop(store: MetricsStore | None = None, *, replicas: int = 1, agent: bool = False, cluster: str = "", **fields: Any) -> Platform:
    """A FastAPI shop over PostgreSQL, in prod (where ``store``, ``replicas``, ``cluster`` apply) and dev."""
    if store is not None and agent:
        store = dataclasses.replace(store, agent_mode=True)
    prod = Environment(
        "prod",
        runtime=Kubernetes(namespace="shop", cluster=cluster) if cluster else Compose(),
        external_labels={"region": "eu-west-1"},
        prometheus_replicas=replicas,
        metrics_store=store,
    )
    values: dict[str, Any] = {
        "name": "shop",
        "grafana_url": "https://grafana.example.org",
        "infra_team": "core",
        "teams": (Team("core", chat_channel="#core", pager_key_file="/run/secrets/core-pager"),),
        "services": (
            Service(
                name="api", kind="fastapi", team="core", tier=1, port=8000,  # type: ignore[arg-type]
                runbook_base_url="https://runbooks.example.org/api", depends_on=("db",),
                slos=(SLO("availability", AvailabilitySLI(), 0.999, min_request_rate=0.05),),
            ),
        ),
        "dependencies": (Dependency(name="db", kind="postgres", team="core", address="db:5432"),),  # type: ignore[arg-type]
        "environments": (prod, Environment("dev", paging=False)),
    }
    values.update(fields)
    return Platform(**values)


def live(
    *, service_port: int, prometheus_port: int, alertmanager_port: int, node_port: int, store: MetricsStore | None,
    replicas: int = 1, agent: bool = False, dead_port: int | None = None, labels: dict[str, str] | None = None,
) -> Platform:  # fmt: skip
    """One instrumented Flask service on 127.0.0.1 in environment ``live``, scraped every second,
    alerting the Alertmanager on ``alertmanager_port``, with a node exporter on ``node_port``;
    ``dead_port`` adds a second target of the service where nothing answers."""
    targets = (f"127.0.0.1:{service_port}", *((f"127.0.0.1:{dead_port}",) if dead_port else ()))
    if store is not None and agent:
        store = dataclasses.replace(store, agent_mode=True)
    return Platform(
        name="live",
        grafana_url="https://grafana.example.org",
        alertmanager_url=f"http://127.0.0.1:{alertmanager_port}",
        prometheus_address=f"127.0.0.1:{prometheus_port}",
        node_targets=(f"127.0.0.1:{node_port}",),
        infra_team="core",
        teams=(Team("core"),),
        services=(
            Service(
                name="shop", kind="flask", team="core", tier=1, port=service_port,  # type: ignore[arg-type]
                runbook_base_url="https://runbooks.example.org/shop",
                slos=(SLO("availability", AvailabilitySLI(), 0.99, min_request_rate=0.01),),
            ),
        ),
        environments=(
            Environment(
                "live",
                scrape_interval="1s",
                paging=False,
                external_labels={"region": "test-1", **(labels or {})},
                prometheus_replicas=replicas,
                metrics_store=store,
                overrides={"shop": ComponentOverride(targets=targets)},
            ),
        ),
    )
