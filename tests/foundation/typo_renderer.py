"""A renderer whose query names a metric nobody emits."""

from obs.artifacts import Artifact, RenderContext
from obs.promql import Query


def render(ctx: RenderContext) -> list[Artifact]:
    expr = "sum(rate(http_requests_total[5m]))"
    return [Artifact("typo/panel.json", {"expr": expr}, queries=(Query(expr, "panel 'Traffic'"),))]
