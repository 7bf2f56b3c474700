"""Small platforms for the alerting tests (imported by the tests of this folder)."""

from __future__ import annotations

from typing import Any

from obs.model import SLO, AvailabilitySLI, Dependency, Environment, LatencySLI, Platform, Service, Team


def small_platform(content: dict[str, Any] | None = None, **service_fields: Any) -> Platform:
    """One FastAPI service over PostgreSQL, with an availability and a latency SLO; ``content``
    names the platform's own alerts, dashboards, tests (relative to where it is built from)."""
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
        **(content or {}),
    )


def queue_alert(platform: Platform, expr: str, cases: str) -> Any:
    """A custom alert of the shop, for the tests that plant it in a module of their own."""
    from obs import links
    from obs.alerting import AlertTest, Fires, Series, Severity, service_alert

    series = (Series('http_server_request_duration_seconds_count{service="shop", instance="a:1"}', "0+1x10"),)
    all_cases = (
        AlertTest("fires", series, "10m", fires=(Fires(value=1, labels={"instance": "a:1"}),)),
        AlertTest("quiet", (), "10m"),
    )
    chosen = {"both": all_cases, "only-quiet": all_cases[1:], "only-fires": all_cases[:1]}[cases]
    return service_alert(
        platform, platform.service("shop"), name="SyncQueueSlow", expr=expr, severity=Severity.TICKET,
        summary="{{$labels.instance}} is slow", description="p50 {{ $value | humanizeDuration }}",
        panel=links.ServicePanel.LATENCY_PERCENTILES, tests=chosen,
    )  # fmt: skip
