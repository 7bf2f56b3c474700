"""The platform's dashboards, as functions of the model written with :mod:`obs.grafana`.

:func:`dashboards` is what the Grafana renderer provisions; every dashboard keeps the uid and the
panel ids of :mod:`obs.links`, which the alerts link to.
"""

from __future__ import annotations

from obs.catalogue.dashboards.infrastructure import (
    blackbox_dashboard,
    node_dashboard,
    postgres_dashboard,
    redis_dashboard,
)
from obs.catalogue.dashboards.platform import alerts_dashboard, overview_dashboard, slo_dashboard
from obs.catalogue.dashboards.service import service_dashboard
from obs.grafana import Dashboard
from obs.model import Environment, Platform


def dashboards(platform: Platform, env: Environment) -> tuple[Dashboard, ...]:
    """Every generated dashboard for ``env`` (its Prometheus is the default datasource)."""
    found: list[Dashboard | None] = [
        overview_dashboard(platform, env),
        slo_dashboard(platform, env),
        *(service_dashboard(platform, env, s) for s in platform.instrumented_services),
        postgres_dashboard(platform, env),
        redis_dashboard(platform, env),
        node_dashboard(platform, env),
        blackbox_dashboard(platform, env),
        alerts_dashboard(platform, env),
    ]
    return tuple(d for d in found if d is not None)


#: How a catalogue dashboard's artifact names its origin: ``obs catalogue (<uid>)``.
CATALOGUE_ORIGIN = "obs catalogue"

__all__ = ["CATALOGUE_ORIGIN", "dashboards"]
