"""Grafana: the generated dashboards, the teams' grafanalib dashboards, and the provisioning that
loads them (datasources with exemplar, trace-to-logs and log-to-trace links; a folder per team).

Every dashboard is linted and schema-checked by the build's verification
(:func:`obs.checks.grafana.verify`): a broken dashboard stops the build with a message naming the
dashboard and the panel, before anything is written. ``obs check`` runs the same checks again on
the written files (plus the provisioning YAML structure), so a hand edit of the output is caught
too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from obs.artifacts import Artifact, RenderContext
from obs.catalogue.dashboards import CATALOGUE_ORIGIN, dashboards
from obs.content import DashboardSource
from obs.errors import RenderError
from obs.grafana import provisioning


def _all_dashboards(ctx: RenderContext) -> Iterator[DashboardSource]:
    """The catalogue's dashboards for the environment, then the platform's own."""
    for d in dashboards(ctx.platform, ctx.env):
        yield DashboardSource(d.team, d.to_json(), d.queries(), f"{CATALOGUE_ORIGIN} ({d.uid})")
    yield from ctx.content.dashboards


def render(ctx: RenderContext) -> Iterable[Artifact]:
    seen: dict[str, str] = {}
    teams: set[str] = set()
    artifacts: list[Artifact] = []
    for source in _all_dashboards(ctx):
        uid = source.uid
        if uid in seen:
            raise RenderError(f"grafana: dashboard uid {uid!r} of {source.origin} is already used by {seen[uid]}")
        seen[uid] = source.origin
        teams.add(source.team)
        path = provisioning.dashboard_path(source.team, uid or "unnamed")
        artifacts.append(Artifact(path, dict(source.data), source.queries, source=source.origin))
    yield Artifact(provisioning.DATASOURCES_PATH, provisioning.datasources(ctx.platform, ctx.env))
    yield Artifact(provisioning.DASHBOARD_PROVIDERS_PATH, provisioning.dashboard_providers(sorted(teams)))
    yield from artifacts


__all__ = ["render"]
