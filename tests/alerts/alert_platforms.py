"""Small platforms for the alerting tests (imported by the tests of this folder)."""

from __future__ import annotations

from typing import Any

from obs.model import SLO, AvailabilitySLI, Dependency, Environment, LatencySLI, Platform, Service, Team


def small_platform(**service_fields: Any) -> Platform:
    """One FastAPI service over PostgreSQL, with an availability and a latency SLO."""
    fields: dict[str, Any] = {
        "name": "shop",
        "kind": "fastapi",
        "team": "core",
        "tier": 1,
        "port": 8000,
        "runbook_base_url": "https://runbooks.example.org/shop",
        "depends_on": ("db",),
        "slos": (
            SLO("availability", AvailabilitySLI(), 0.999, min_request_rate=0.05),
            SLO("latency", LatencySLI(threshold_seconds=0.25), 0.99, window="28d"),
        ),
    }
    fields.update(service_fields)
    return Platform(
        name="shop",
        grafana_url="https://grafana.example.org",
        infra_team="core",
        teams=(Team("core", chat_channel="#core", pager_key_file="/run/secrets/core-pager"),),
        services=(Service(**fields),),
        dependencies=(Dependency(name="db", kind="postgres", team="core", address="db:5432"),),  # type: ignore[arg-type]
        environments=(Environment("prod"), Environment("dev", paging=False)),
    )
