"""Our own small vocabulary for dashboards, serialized through the Grafana Foundation SDK.

The SDK is in public preview and its builders change between Grafana minors, so nothing outside
this package imports it: dashboards are written with the frozen value objects and helpers here
(:func:`timeseries`, :func:`stat`, :func:`heatmap`, :func:`row`, ...) and :meth:`Dashboard.to_json`
is the one place that drives the SDK. Swapping the SDK for another emitter is a change to this file.

Policy lives in the types: a panel cannot be built without a description and a unit, every
Prometheus panel reads the ``datasource`` variable (the environment), and a panel's queries come
back as :class:`~obs.promql.Query` values so the build checks them against the contract.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import bargauge as sdk_bargauge
from grafana_foundation_sdk.builders import common as sdk_common
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.builders import heatmap as sdk_heatmap
from grafana_foundation_sdk.builders import prometheus as sdk_prometheus
from grafana_foundation_sdk.builders import stat as sdk_stat
from grafana_foundation_sdk.builders import statetimeline as sdk_statetimeline
from grafana_foundation_sdk.builders import table as sdk_table
from grafana_foundation_sdk.builders import timeseries as sdk_timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as sdk_common_models
from grafana_foundation_sdk.models import dashboard as sdk_models
from grafana_foundation_sdk.models import prometheus as sdk_prometheus_models

from obs.grafana.layout import GRID_WIDTH, Box, Placement, place
from obs.promql import Query

PanelKind = Literal["timeseries", "stat", "heatmap", "table", "bargauge", "state-timeline"]
TargetFormat = Literal["time_series", "table", "heatmap"]
ThresholdStyle = Literal["off", "line", "area", "line+area", "dashed"]

#: The template variable every Prometheus panel reads: picking it picks the environment, because
#: each environment has its own Prometheus (the ``environment`` label is external, not on series).
DATASOURCE_VARIABLE = "datasource"
PROMETHEUS_TYPE = "prometheus"
#: Panel ids the model does not pin (links.py pins the ones alerts point at) start here, so adding
#: a pinned id never renumbers the others.
AUTO_ID_BASE = 100

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


@dataclass(frozen=True, slots=True)
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    #: Ask Prometheus for exemplars too: their ``trace_id`` opens the trace (datasource setting).
    exemplar: bool = False
    format: TargetFormat = "time_series"
    #: Thresholds for this query's field only (a panel showing several SLOs, each its own target).
    thresholds: Thresholds | None = None
    #: Metrics outside the contract that this query reads on purpose.
    declared: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Step:
    """From ``value`` up (``None`` = from minus infinity) the field is ``color``."""

    value: float | None
    color: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    steps: tuple[Step, ...]
    #: How a time series panel draws them; stat panels colour the value instead.
    style: ThresholdStyle = "line"

    @staticmethod
    def above(warning: float | None, critical: float, style: ThresholdStyle = "line") -> Thresholds:
        """Green below ``warning``, orange from it, red from ``critical`` (higher is worse)."""
        steps = [Step(None, GREEN)]
        if warning is not None:
            steps.append(Step(warning, ORANGE))
        steps.append(Step(critical, RED))
        return Thresholds(tuple(steps), style)

    @staticmethod
    def below(critical: float, warning: float | None = None, style: ThresholdStyle = "line") -> Thresholds:
        """Red below ``critical``, orange below ``warning``, green above (lower is worse)."""
        steps = [Step(None, RED)]
        if warning is not None:
            steps.append(Step(critical, ORANGE))
            steps.append(Step(warning, GREEN))
        else:
            steps.append(Step(critical, GREEN))
        return Thresholds(tuple(steps), style)


@dataclass(frozen=True, slots=True)
class Link:
    """A link on a panel's values (data link) or on the dashboard. ``url`` may use Grafana's
    ``${__field.labels.x}``, ``${__value.raw}``, ``${__from}``/``${__to}`` and ``$var``."""

    title: str
    url: str
    new_tab: bool = True


@dataclass(frozen=True, slots=True)
class ValueText:
    """Show ``text`` in ``color`` when the value is exactly ``value`` (e.g. 0 → DOWN)."""

    value: str
    text: str
    color: str


@dataclass(frozen=True, slots=True)
class Panel:
    """A visualization. Build it with :func:`timeseries`, :func:`stat`, ... rather than directly."""

    kind: PanelKind
    title: str
    description: str
    unit: str
    targets: tuple[Target, ...]
    id: int | None = None
    width: int = 12
    height: int = 8
    thresholds: Thresholds | None = None
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    #: Links on the values (data links): a click on a series or cell follows them.
    links: tuple[Link, ...] = ()
    #: Links in the panel header (e.g. to the dashboard that explains the panel in depth).
    panel_links: tuple[Link, ...] = ()
    value_texts: tuple[ValueText, ...] = ()
    stack: bool = False
    legend: Literal["list", "table"] = "list"
    #: Stat panels: draw the sparkline behind the number.
    sparkline: bool = False
    #: Heatmaps: the unit of a cell's value (``unit`` is the y axis's, the buckets').
    cell_unit: str = "short"

    def __post_init__(self) -> None:
        # Refuse at construction what the lint would refuse later: the message names the panel
        # while its author is still looking at it.
        where = f"panel {self.title!r}"
        if not self.title.strip():
            raise ValueError("a panel needs a title")
        if not self.description.strip():
            raise ValueError(
                f"{where}: needs a description telling on-call what it means and what to do next"
            )
        if not self.unit.strip():
            raise ValueError(f"{where}: needs a unit (e.g. 'reqps', 's', 'percentunit', 'short')")
        if not self.targets:
            raise ValueError(f"{where}: needs at least one query")
        if not 1 <= self.width <= GRID_WIDTH or self.height < 1:
            raise ValueError(f"{where}: width must be 1..{GRID_WIDTH} and height at least 1")
        if len(self.targets) > len(string.ascii_uppercase):
            raise ValueError(f"{where}: at most {len(string.ascii_uppercase)} queries")


@dataclass(frozen=True, slots=True)
class Row:
    """A full-width header grouping the panels under it; ``collapsed`` rows hide them until opened."""

    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable. Build with :func:`datasource_variable`, :func:`query_variable` or
    :func:`custom_variable`."""

    name: str
    kind: Literal["datasource", "query", "custom"]
    label: str
    query: str
    default: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str = ""
    description: str = ""
    regex: str = ""
    #: Not shown on the dashboard: a value the dashboard works out for its links and queries.
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Annotation:
    """Marks on every time series panel from a PromQL query: when something started ("since when").

    Each sample of ``expr`` becomes a mark titled by ``title`` (``{{label}}`` templates)."""

    name: str
    expr: str
    title: str
    color: str = RED
    tags: tuple[str, ...] = ()
    step: str = "60s"


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard as data; :meth:`to_json` gives the Grafana JSON model."""

    uid: str
    title: str
    description: str
    team: str
    items: tuple[Panel | Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    time_from: str = "now-6h"
    refresh: str = "1m"

    def __post_init__(self) -> None:
        if not self.uid or len(self.uid) > 40:
            raise ValueError(
                f"dashboard {self.title!r}: uid {self.uid!r} must be 1..40 characters (Grafana's limit)"
            )

    # --- layout and identity -------------------------------------------------------------------

    def placed(self) -> list[tuple[Panel | Row, int, Placement]]:
        """Every panel and row with its id and grid position, in reading order."""
        items = list(_flatten(self.items))
        pinned = [i.id for i in items if i.id is not None]
        duplicates = sorted({p for p in pinned if pinned.count(p) > 1})
        if duplicates:
            raise ValueError(f"dashboard {self.uid}: panel ids {duplicates} are used twice")
        next_id = max([AUTO_ID_BASE - 1, *pinned]) + 1
        boxes = [
            Box(GRID_WIDTH, 1, is_row=True) if isinstance(i, Row) else Box(i.width, i.height) for i in items
        ]
        placements = place(boxes)
        result: list[tuple[Panel | Row, int, Placement]] = []
        for item, placement in zip(items, placements, strict=True):
            if item.id is None:
                ident, next_id = next_id, next_id + 1
            else:
                ident = item.id
            result.append((item, ident, placement))
        return result

    def panels(self) -> Iterator[tuple[Panel, int]]:
        for item, ident, _ in self.placed():
            if isinstance(item, Panel):
                yield item, ident

    def queries(self) -> tuple[Query, ...]:
        """Every PromQL expression, each saying where it sits, for the build's contract check."""
        panels = tuple(
            Query(t.expr, f"dashboard {self.uid} panel {ident} {panel.title!r} query {ref}", t.declared)
            for panel, ident in self.panels()
            for ref, t in zip(string.ascii_uppercase, panel.targets, strict=False)
        )
        return panels + tuple(
            Query(a.expr, f"dashboard {self.uid} annotation {a.name!r}") for a in self.annotations
        )

    # --- serialization -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        builder = (
            sdk.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(sorted({*self.tags, f"team:{self.team}", "obs"}))
            .time(self.time_from, "now")
            .refresh(self.refresh)
            .timezone("browser")
            .tooltip(sdk_models.DashboardCursorSync.CROSSHAIR)
            .readonly()
        )
        for variable in self.variables:
            builder = builder.with_variable(_variable(variable))
        for link in self.links:
            builder = builder.link(_dashboard_link(link))
        data: dict[str, Any] = plain(builder.build().to_json())
        panels: list[dict[str, Any]] = []
        open_row: dict[str, Any] | None = None
        for item, ident, placement in self.placed():
            if isinstance(item, Row):
                open_row = _row_json(item, ident, placement)
                panels.append(open_row)
                if not item.collapsed:
                    open_row = None
                continue
            panel = _panel_json(item, ident, placement)
            # A collapsed row keeps its panels inside it; an open row's panels follow it.
            (open_row["panels"] if open_row is not None else panels).append(panel)
        data["panels"] = panels
        # Grafana reads `annotations.list`; the SDK leaves an empty object when none are set.
        data["annotations"] = {
            "list": [_alerts_annotation(), *(_annotation_json(a) for a in self.annotations)]
        }
        data["id"] = None
        return data


def _flatten(items: Iterable[Panel | Row]) -> Iterator[Panel | Row]:
    for item in items:
        yield item
        if isinstance(item, Row):
            yield from item.panels


# --- builders (the public way to make panels) ---------------------------------------------------


def timeseries(title: str, *targets: Target, description: str, unit: str, **options: Any) -> Panel:
    return Panel("timeseries", title, description, unit, tuple(targets), **options)


def stat(title: str, *targets: Target, description: str, unit: str, **options: Any) -> Panel:
    options.setdefault("width", 6)
    options.setdefault("height", 5)
    return Panel("stat", title, description, unit, tuple(targets), **options)


def heatmap(
    title: str, *targets: Target, description: str, unit: str = "s", cell_unit: str = "short", **options: Any
) -> Panel:
    """A latency heatmap from histogram buckets (``format="heatmap"`` targets), exemplars on:
    ``unit`` for the buckets (y axis), ``cell_unit`` for what a cell counts."""
    return Panel("heatmap", title, description, unit, tuple(targets), cell_unit=cell_unit, **options)


def table(title: str, *targets: Target, description: str, unit: str, **options: Any) -> Panel:
    return Panel("table", title, description, unit, tuple(targets), **options)


def bargauge(title: str, *targets: Target, description: str, unit: str, **options: Any) -> Panel:
    return Panel("bargauge", title, description, unit, tuple(targets), **options)


def state_timeline(
    title: str, *targets: Target, description: str, unit: str = "short", **options: Any
) -> Panel:
    return Panel("state-timeline", title, description, unit, tuple(targets), **options)


def row(title: str, *panels: Panel, collapsed: bool = False, id: int | None = None) -> Row:
    return Row(title, tuple(panels), collapsed, id)


def datasource_variable(default_uid: str, label: str = "Environment", regex: str = "") -> Variable:
    return Variable(
        DATASOURCE_VARIABLE,
        "datasource",
        label,
        PROMETHEUS_TYPE,
        default=default_uid,
        regex=regex,
        description="Each environment has its own Prometheus: picking one picks the environment.",
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    default: str = "",
    multi: bool = False,
    include_all: bool = False,
    all_value: str = "",
    description: str = "",
    hidden: bool = False,
) -> Variable:
    return Variable(
        name, "query", label, query, default, multi, include_all, all_value, description=description, hidden=hidden
    )


def custom_variable(
    name: str,
    label: str,
    values: Sequence[str],
    *,
    default: str = "",
    multi: bool = False,
    include_all: bool = False,
    all_value: str = "",
) -> Variable:
    return Variable(
        name,
        "custom",
        label,
        ",".join(values),
        default or (values[0] if values else ""),
        multi,
        include_all,
        all_value,
    )


# --- SDK plumbing ------------------------------------------------------------------------------

_DATASOURCE = sdk_models.DataSourceRef(type_val=PROMETHEUS_TYPE, uid=f"${{{DATASOURCE_VARIABLE}}}")


def plain(value: Any) -> Any:
    """SDK objects → plain JSON data (the SDK's to_json is shallow: nested models stay objects)."""
    if hasattr(value, "to_json"):
        return plain(value.to_json())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "value") and type(value).__module__.startswith("grafana_foundation_sdk"):
        return value.value  # an SDK enum
    return value


def _variable(v: Variable) -> cogbuilder.Builder[sdk_models.VariableModel]:
    current = sdk_models.VariableOption(selected=True, text=v.default, value=v.default) if v.default else None
    if v.kind == "datasource":
        ds = sdk.DatasourceVariable(v.name).type(v.query).label(v.label).description(v.description)
        if v.regex:
            ds = ds.regex(v.regex)
        return ds.current(current) if current else ds
    if v.kind == "custom":
        options = [
            sdk_models.VariableOption(selected=o == v.default, text=o, value=o) for o in v.query.split(",")
        ]
        custom = (
            sdk.CustomVariable(v.name)
            .label(v.label)
            .values(v.query)
            .multi(v.multi)
            .include_all(v.include_all)
            .options(options)
        )
        if v.all_value:
            custom = custom.all_value(v.all_value)
        return custom.current(current) if current else custom
    query = (
        sdk.QueryVariable(v.name)
        .label(v.label)
        .datasource(_DATASOURCE)
        .query(v.query)
        .refresh(sdk_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(sdk_models.VariableSort.ALPHABETICAL_ASC)
        .multi(v.multi)
        .include_all(v.include_all)
    )
    if v.all_value:
        query = query.all_value(v.all_value)
    if v.description:
        query = query.description(v.description)
    if v.hidden:
        query = query.hide(sdk_models.VariableHide.HIDE_VARIABLE)
    return query.current(current) if current else query


def _dashboard_link(link: Link) -> sdk.DashboardLink:
    return (
        sdk.DashboardLink(link.title)
        .type(sdk_models.DashboardLinkType.LINK)
        .url(link.url)
        .target_blank(link.new_tab)
        .keep_time(False)
        .include_vars(False)
    )


def _data_link(link: Link) -> dict[str, Any]:
    # Grafana's data links are {title, url, targetBlank}; the SDK types them as dashboard links,
    # whose extra keys Grafana ignores, so they are written by hand to keep the JSON minimal.
    return {"title": link.title, "url": link.url, "targetBlank": link.new_tab}


def _target(t: Target, ref: str) -> sdk_prometheus.Dataquery:
    q = (
        sdk_prometheus.Dataquery()
        .expr(t.expr)
        .ref_id(ref)
        .datasource(_DATASOURCE)
        .legend_format(t.legend or "__auto")
    )
    q = q.instant() if t.instant else q.range()
    if t.exemplar:
        q = q.exemplar(True)
    if t.format != "time_series":
        q = q.format(sdk_prometheus_models.PromQueryFormat(t.format))
    return q


def _thresholds(th: Thresholds) -> sdk.ThresholdsConfig:
    steps = [sdk_models.Threshold(value=s.value, color=s.color) for s in th.steps]
    return sdk.ThresholdsConfig().mode(sdk_models.ThresholdsMode.ABSOLUTE).steps(steps)


def _legend(panel: Panel) -> sdk_common.VizLegendOptions:
    mode = (
        sdk_common_models.LegendDisplayMode.TABLE
        if panel.legend == "table"
        else sdk_common_models.LegendDisplayMode.LIST
    )
    legend = (
        sdk_common.VizLegendOptions()
        .show_legend(True)
        .display_mode(mode)
        .placement(sdk_common_models.LegendPlacement.BOTTOM)
    )
    return legend.calcs(["mean", "max", "lastNotNull"] if panel.legend == "table" else [])


def _sdk_panel(panel: Panel) -> Any:
    """The SDK builder for the panel's kind with its kind-specific options."""
    if panel.kind == "timeseries":
        ts = (
            sdk_timeseries.Panel()
            .legend(_legend(panel))
            .line_width(1)
            .fill_opacity(10)
            .show_points(sdk_common_models.VisibilityMode.NEVER)
        )
        ts = ts.tooltip(
            sdk_common.VizTooltipOptions()
            .mode(sdk_common_models.TooltipDisplayMode.MULTI)
            .sort(sdk_common_models.SortOrder.DESCENDING)
        )
        if panel.stack:
            ts = ts.stacking(sdk_common.StackingConfig().mode(sdk_common_models.StackingMode.NORMAL))
        if panel.thresholds and panel.thresholds.style != "off":
            style = sdk_common_models.GraphThresholdsStyleMode(panel.thresholds.style)
            ts = ts.thresholds_style(sdk_common.GraphThresholdsStyleConfig().mode(style))
        return ts
    if panel.kind == "stat":
        mode = (
            sdk_common_models.BigValueGraphMode.AREA
            if panel.sparkline
            else sdk_common_models.BigValueGraphMode.NONE
        )
        return (
            sdk_stat.Panel()
            .graph_mode(mode)
            .color_mode(sdk_common_models.BigValueColorMode.BACKGROUND)
            .text_mode(
                sdk_common_models.BigValueTextMode.VALUE_AND_NAME
                if len(panel.targets) > 1
                else sdk_common_models.BigValueTextMode.AUTO
            )
            .reduce_options(sdk_common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    if panel.kind == "bargauge":
        return (
            sdk_bargauge.Panel()
            .display_mode(sdk_common_models.BarGaugeDisplayMode.GRADIENT)
            .orientation(sdk_common_models.VizOrientation.HORIZONTAL)
            .reduce_options(sdk_common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .legend(_legend(panel))
        )
    if panel.kind == "heatmap":
        return (
            sdk_heatmap.Panel()
            .calculate(False)
            .color(sdk_heatmap.HeatmapColorOptions().mode(_heatmap_color_mode()).scheme("Oranges").steps(64))
            .y_axis(sdk_heatmap.YAxisConfig().unit(panel.unit))
            # A cell holds requests, not a duration: without its own unit it inherits the buckets'
            # (the panel's "s"), and the tooltip and legend read 72 requests as "1.2 min".
            .cell_values(sdk_heatmap.CellValues().unit(panel.cell_unit))
            .cell_gap(1)
            .show_legend()
            .exemplars_color("rgba(255,0,255,0.7)")
            .mode(sdk_common_models.TooltipDisplayMode.SINGLE)
        )
    if panel.kind == "state-timeline":
        return (
            sdk_statetimeline.Panel()
            .legend(_legend(panel))
            .show_value(sdk_common_models.VisibilityMode.NEVER)
            .merge_values(True)
        )
    return sdk_table.Panel().show_header(True).filterable(False)


def _heatmap_color_mode() -> Any:
    from grafana_foundation_sdk.models import heatmap as sdk_heatmap_models

    return sdk_heatmap_models.HeatmapColorMode.SCHEME


def _panel_json(panel: Panel, ident: int, placement: Placement) -> dict[str, Any]:
    b = (
        _sdk_panel(panel)
        .id(ident)
        .title(panel.title)
        .description(panel.description)
        .datasource(_DATASOURCE)
        .grid_pos(sdk_models.GridPos(h=placement.h, w=placement.w, x=placement.x, y=placement.y))
        .unit(panel.unit)
    )
    for ref, target in zip(string.ascii_uppercase, panel.targets, strict=False):
        b = b.with_target(_target(target, ref))
        if target.thresholds:
            b = b.override_by_query(
                ref,
                [
                    sdk_models.DynamicConfigValue(
                        id_val="thresholds", value=plain(_thresholds(target.thresholds).build())
                    )
                ],
            )
    if panel.thresholds:
        b = b.thresholds(_thresholds(panel.thresholds))
    for attr in ("min", "max", "decimals"):
        value = getattr(panel, attr)
        if value is not None:
            b = getattr(b, attr)(value)
    if panel.value_texts:
        b = b.mappings(
            [
                sdk_models.ValueMap(
                    options={
                        vt.value: sdk_models.ValueMappingResult(text=vt.text, color=vt.color, index=i)
                        for i, vt in enumerate(panel.value_texts)
                    }
                )
            ]
        )
    data: dict[str, Any] = plain(b.build())
    if panel.links:
        data["fieldConfig"]["defaults"]["links"] = [_data_link(link) for link in panel.links]
    if panel.panel_links:
        data["links"] = [_data_link(link) for link in panel.panel_links]
    if panel.kind == "table":
        # Instant table queries carry a useless Time column; hide it so the values read first.
        data["transformations"] = [{"id": "organize", "options": {"excludeByName": {"Time": True}}}]
        if panel.thresholds or any(t.thresholds for t in panel.targets):
            # A table colours cells by thresholds only in a colour cell type: without it the
            # thresholds are kept and nothing is coloured. The numbers only: labels stay plain.
            data["fieldConfig"].setdefault("overrides", []).append(
                {
                    "matcher": {"id": "byType", "options": "number"},
                    "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background"}}],
                }
            )
    data.pop("repeatDirection", None)
    data.pop("transparent", None)
    return data


def _row_json(r: Row, ident: int, placement: Placement) -> dict[str, Any]:
    b = (
        sdk.Row(r.title)
        .id(ident)
        .collapsed(r.collapsed)
        .grid_pos(sdk_models.GridPos(h=1, w=GRID_WIDTH, x=0, y=placement.y))
    )
    data: dict[str, Any] = plain(b.build())
    data["panels"] = []
    return data


def _annotation_json(a: Annotation) -> dict[str, Any]:
    return {
        "name": a.name,
        "datasource": plain(_DATASOURCE),
        "enable": True,
        "hide": False,
        "iconColor": a.color,
        "expr": a.expr,
        "step": a.step,
        "titleFormat": a.title,
        "tagKeys": ",".join(a.tags),
        "useValueForTime": False,
    }


def _alerts_annotation() -> dict[str, Any]:
    # Grafana's own annotations (alerts and manual notes) on every time series: "since when".
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


__all__ = [
    "AUTO_ID_BASE",
    "Annotation",
    "DATASOURCE_VARIABLE",
    "Dashboard",
    "Link",
    "Panel",
    "PanelKind",
    "Row",
    "Step",
    "Target",
    "Thresholds",
    "ValueText",
    "Variable",
    "bargauge",
    "custom_variable",
    "datasource_variable",
    "heatmap",
    "plain",
    "query_variable",
    "row",
    "stat",
    "state_timeline",
    "table",
    "timeseries",
]
