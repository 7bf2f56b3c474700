"""House rules for dashboard JSON, generated or hand-written (grafanalib), checked without a Grafana.

Each rule exists because breaking it costs on-call time at 3 a.m.: a duplicate panel id makes an
alert's ``viewPanel`` link open the wrong panel, overlapping panels hide each other, a panel with no
unit reads ``0.003`` where ``3 ms`` was meant, a panel with no description leaves the reader to
guess what to do, a hard-wired datasource shows prod data on the staging dashboard, and a hidden
legend makes a line impossible to name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from obs.grafana.layout import GRID_WIDTH, Placement
from obs.grafana.provisioning import ALERTMANAGER_UID, ELASTICSEARCH_UID, JAEGER_UID
from obs.promql import Query

#: The datasources every environment provisions under one fixed uid: a panel may name them directly
#: (they hold every environment); Prometheus is per environment and goes through the variable.
SHARED_DATASOURCES = {"elasticsearch": ELASTICSEARCH_UID, "jaeger": JAEGER_UID, "alertmanager": ALERTMANAGER_UID}

#: Panel types whose options carry a legend that must be shown.
LEGEND_TYPES = frozenset({"timeseries", "state-timeline", "bargauge", "heatmap"})


@dataclass(frozen=True, slots=True)
class Problem:
    dashboard: str
    panel: str
    message: str

    def __str__(self) -> str:
        return f"dashboard {self.dashboard}{' ' + self.panel if self.panel else ''}: {self.message}"


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel and row, including those inside collapsed rows."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def dashboard_queries(dashboard: Mapping[str, Any], origin: str) -> tuple[Query, ...]:
    """The PromQL of every panel target, named for error messages after ``origin`` (a file name)."""
    return tuple(
        Query(
            str(t["expr"]),
            f"{origin} panel {p.get('id')} {p.get('title', '')!r} query {t.get('refId', '?')}",
        )
        for p in iter_panels(dashboard)
        for t in p.get("targets") or []
        if isinstance(t, Mapping) and t.get("expr")
    )


def _name(panel: Mapping[str, Any]) -> str:
    return f"panel {panel.get('id')} {panel.get('title', '')!r}"


def _is_variable(uid: Any) -> bool:
    return isinstance(uid, str) and uid.startswith("$")


def _usable_datasource(ref: Any) -> bool:
    """A template variable, or one of the shared datasources under its provisioned uid."""
    if not isinstance(ref, Mapping):
        return False
    uid = ref.get("uid")
    return _is_variable(uid) or SHARED_DATASOURCES.get(str(ref.get("type"))) == uid


def lint(dashboard: Mapping[str, Any]) -> list[Problem]:
    uid = str(dashboard.get("uid") or "<no uid>")
    problems: list[Problem] = []

    def bad(panel: Mapping[str, Any] | None, message: str) -> None:
        problems.append(Problem(uid, _name(panel) if panel is not None else "", message))

    if not dashboard.get("uid"):
        bad(None, "has no uid: links from alerts need a stable one")
    if not dashboard.get("title"):
        bad(None, "has no title")
    seen_ids: dict[Any, str] = {}
    boxes: list[tuple[Placement, Mapping[str, Any]]] = []
    for panel in iter_panels(dashboard):
        ident = panel.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            bad(panel, "has no integer id (grafanalib: call dashboard.auto_panel_ids())")
        elif ident in seen_ids:
            bad(panel, f"reuses the id of {seen_ids[ident]}")
        else:
            seen_ids[ident] = _name(panel)
        grid = panel.get("gridPos") or {}
        try:
            box = Placement(int(grid["x"]), int(grid["y"]), int(grid["w"]), int(grid["h"]))
        except (KeyError, TypeError, ValueError):
            bad(panel, "has no complete gridPos {x, y, w, h}")
        else:
            if box.x < 0 or box.w < 1 or box.h < 1 or box.x + box.w > GRID_WIDTH:
                bad(panel, f"gridPos {grid} does not fit the {GRID_WIDTH}-column grid")
            for other_box, other in boxes:
                if box.overlaps(other_box):
                    bad(panel, f"overlaps {_name(other)} (gridPos {grid} and {other.get('gridPos')})")
            boxes.append((box, panel))
        if panel.get("type") == "row":
            if not panel.get("title"):
                bad(panel, "row has no title")
            continue
        _lint_panel(panel, bad)
    uids = [str(p["uid"]) for p in iter_panels(dashboard) if p.get("uid")]
    for dup in sorted({u for u in uids if uids.count(u) > 1}):
        bad(None, f"panel uid {dup!r} is used twice")
    return problems


def _lint_panel(panel: Mapping[str, Any], bad: Any) -> None:
    if not str(panel.get("title") or "").strip():
        bad(panel, "has no title")
    if panel.get("type") == "text":
        return  # its content is what it says: no query, unit or datasource
    if not str(panel.get("description") or "").strip():
        bad(panel, "has no description: say what it means and what to do next")
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    if not defaults.get("unit"):
        bad(panel, "has no unit (fieldConfig.defaults.unit)")
    datasource = panel.get("datasource")
    if not _usable_datasource(datasource):
        shared = ", ".join(f"{t} (uid {u!r})" for t, u in SHARED_DATASOURCES.items())
        bad(
            panel,
            f"datasource {datasource!r} is not a template variable such as {{'uid': '${{datasource}}'}} "
            f"nor a shared datasource under its provisioned uid: {shared}",
        )
    targets = panel.get("targets") or []
    if not targets:
        bad(panel, "has no query")
    for target in targets:
        ds = target.get("datasource")
        if ds is not None and not _usable_datasource(ds):
            bad(panel, f"query {target.get('refId')} uses datasource {ds!r}, not a template variable or a shared datasource")
    if panel.get("type") in LEGEND_TYPES:
        legend = (panel.get("options") or {}).get("legend") or {}
        shown = legend.get("showLegend", legend.get("show"))
        if shown is not True:
            bad(panel, "hides its legend: series cannot be told apart")


__all__ = ["LEGEND_TYPES", "SHARED_DATASOURCES", "Problem", "dashboard_queries", "iter_panels", "lint"]
