"""A panel drawn as inline SVG or HTML: units and colours as Grafana shows them, lines, heatmaps,
state timelines, stats, bars and tables."""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from obs.preview.query import Exemplar, Prometheus, QueryError, Series
from obs.preview.variables import Window, substitute

log = logging.getLogger(__name__)

COLUMN_PX = 50
ROW_PX = 30
PALETTE = (
    "#7eb26d",
    "#eab839",
    "#6ed0e0",
    "#ef843c",
    "#e24d42",
    "#1f78c1",
    "#ba43a9",
    "#705da0",
    "#508642",
    "#cca300",
)
COLORS = {"green": "#56a64b", "yellow": "#f2cc0c", "orange": "#ff9830", "red": "#e02f44", "blue": "#3274d9"}


# --- units and colours --------------------------------------------------------------------------


def format_value(value: float | None, unit: str, decimals: int | None = None) -> str:
    if value is None or math.isnan(value):
        return "No data"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "percentunit":
        return f"{value * 100:.{2 if decimals is None else decimals}f}%"
    if unit == "percent":
        return f"{value:.{2 if decimals is None else decimals}f}%"
    if unit == "s":
        magnitude = abs(value)
        for limit, div, suffix in (
            (1e-3, 1e-6, "µs"),
            (1, 1e-3, "ms"),
            (60, 1, "s"),
            (3600, 60, "min"),
            (86400, 3600, "h"),
        ):
            if magnitude < limit:
                return f"{value / div:.{1 if decimals is None else decimals}f} {suffix}"
        return f"{value / 86400:.{1 if decimals is None else decimals}f} d"
    if unit == "bytes":
        for prefix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024 or prefix == "TiB":
                return f"{value:.{1 if decimals is None else decimals}f} {prefix}"
            value /= 1024
    suffix = {"reqps": " req/s", "ops": " ops/s", "x": "x"}.get(unit, "")
    if decimals is not None:
        return f"{value:.{decimals}f}{suffix}"
    return f"{_si(value)}{suffix}"


def _si(value: float) -> str:
    for limit, div, prefix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e3, 1e3, "k")):
        if abs(value) >= limit:
            return f"{value / div:.3g}{prefix}"
    return f"{value:.3g}"


def threshold_color(value: float | None, thresholds: Mapping[str, Any] | None) -> str:
    if value is None or math.isnan(value) or not thresholds:
        return "#3d444d"
    color = "#3d444d"
    for step in thresholds.get("steps") or []:
        if step.get("value") is None or value >= float(step["value"]):
            color = COLORS.get(step.get("color", ""), step.get("color", color))
    return color


def legend_name(series: Series, legend: str) -> str:
    if legend and legend != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: series.labels.get(m.group(1), ""), legend)
    labels = {k: v for k, v in series.labels.items() if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or series.labels.get("__name__", "value")


# --- panels -------------------------------------------------------------------------------------


#: Exemplars drawn per query: enough to click one in every slow band, few enough to see the data.
MAX_EXEMPLARS = 150


@dataclass(frozen=True, slots=True)
class TargetResult:
    name: str
    series: list[Series]
    legend: str
    thresholds: Mapping[str, Any] | None
    exemplars: list[Exemplar]
    error: str = ""


def _target_thresholds(panel: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        if (override.get("matcher") or {}).get("options") == ref:
            for prop in override.get("properties") or []:
                if prop.get("id") == "thresholds":
                    value: Mapping[str, Any] = prop["value"]
                    return value
    defaults: Mapping[str, Any] = (panel.get("fieldConfig") or {}).get("defaults") or {}
    return defaults.get("thresholds")


def run_panel(
    prom: Prometheus, panel: Mapping[str, Any], values: Mapping[str, str], window: Window
) -> list[TargetResult]:
    results: list[TargetResult] = []
    for target in panel.get("targets") or []:
        if target.get("hide"):
            continue
        ref = str(target.get("refId", "A"))
        expr = substitute(str(target.get("expr", "")), values, window)
        legend = str(target.get("legendFormat") or "")
        thresholds = _target_thresholds(panel, ref)
        try:
            series = prom.query(expr, window.end) if target.get("instant") else prom.query_range(expr, window)
            exemplars = _thin(prom.exemplars(expr, window)) if target.get("exemplar") else []
        except (QueryError, OSError) as exc:
            results.append(TargetResult(ref, [], legend, thresholds, [], error=f"{ref}: {exc}"))
            continue
        results.append(TargetResult(ref, series, legend, thresholds, exemplars))
    return results


def _thin(exemplars: list[Exemplar]) -> list[Exemplar]:
    """At most MAX_EXEMPLARS, evenly spread over time, always keeping the slowest."""
    if len(exemplars) <= MAX_EXEMPLARS:
        return exemplars
    ordered = sorted(exemplars, key=lambda e: e.t)
    stride = len(ordered) / (MAX_EXEMPLARS - 1)
    kept = {id(ordered[int(i * stride)]): ordered[int(i * stride)] for i in range(MAX_EXEMPLARS - 1)}
    slowest = max(exemplars, key=lambda e: e.value)
    kept[id(slowest)] = slowest
    return sorted(kept.values(), key=lambda e: e.t)


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _svg_lines(
    panel: Mapping[str, Any],
    results: Sequence[TargetResult],
    width: int,
    height: int,
    window: Window,
    jaeger_url: str,
) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit = str(defaults.get("unit") or "")
    lines = [(legend_name(s, r.legend), s) for r in results for s in r.series]
    values = [v for _, s in lines for _, v in s.points if not math.isnan(v) and not math.isinf(v)]
    values += [e.value for r in results for e in r.exemplars]
    if not values:
        return _no_data(width, height)
    low = float(defaults.get("min", min(0.0, min(values))))
    high = float(defaults.get("max", max(values)))
    if high <= low:
        high = low + 1
    left, right, top, bottom = 62, 8, 6, 18
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + (t - window.start) / (window.end - window.start) * plot_w

    def y(v: float) -> float:
        clamped = min(max(v, low), high)
        return top + plot_h - (clamped - low) / (high - low) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">']
    for frac in (0.0, 0.5, 1.0):
        value = low + (high - low) * frac
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" class="axis" text-anchor="end">{escape(format_value(value, unit))}</text>'
        )
    for t, anchor in ((window.start, "start"), (window.end, "end")):
        label = datetime.fromtimestamp(t, UTC).strftime("%H:%M")
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - 4}" class="axis" text-anchor="{anchor}">{label}</text>'
        )
    style = ((defaults.get("custom") or {}).get("thresholdsStyle") or {}).get("mode", "off")
    if style != "off":
        for step in (defaults.get("thresholds") or {}).get("steps") or []:
            if step.get("value") is not None and low <= float(step["value"]) <= high:
                color = COLORS.get(step["color"], step["color"])
                parts.append(
                    f'<line x1="{left}" x2="{width - right}" y1="{y(float(step["value"])):.1f}" y2="{y(float(step["value"])):.1f}" '
                    f'stroke="{escape(color)}" stroke-dasharray="4 3" class="threshold"/>'
                )
    for i, (_, series) in enumerate(lines):
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series.points if not math.isnan(v))
        if points:
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.5"/>'
            )
    for r in results:
        for ex in r.exemplars:
            href = f"{jaeger_url.rstrip('/')}/trace/{ex.trace_id}"
            parts.append(
                f'<a href="{escape(href)}"><circle cx="{x(ex.t):.1f}" cy="{y(ex.value):.1f}" r="3" class="exemplar">'
                f"<title>trace {escape(ex.trace_id)}: {escape(format_value(ex.value, unit))}</title></circle></a>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(name)}</span>'
        for i, (name, _) in enumerate(lines)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _svg_heatmap(
    panel: Mapping[str, Any],
    results: Sequence[TargetResult],
    width: int,
    height: int,
    window: Window,
    jaeger_url: str,
) -> str:
    series = [s for r in results for s in r.series if "le" in s.labels]
    if not series:
        return _no_data(width, height)
    series.sort(key=lambda s: math.inf if s.labels["le"] == "+Inf" else float(s.labels["le"]))
    times = sorted({t for s in series for t, _ in s.points})
    by_time = [dict(s.points) for s in series]
    # Buckets are cumulative (le): a cell holds the requests between this bound and the one below.
    cells: list[list[float]] = []
    for i, points in enumerate(by_time):
        below = by_time[i - 1] if i else {}
        cells.append([max(0.0, _nz(points.get(t)) - _nz(below.get(t))) for t in times])
    peak = max((v for row in cells for v in row), default=0.0) or 1.0
    left, top, bottom = 62, 6, 18
    plot_w, plot_h = width - left - 8, height - top - bottom
    span = window.end - window.start
    cell_w, cell_h = max(1.0, window.step / span * plot_w), plot_h / len(series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">']
    for i, row in enumerate(cells):
        y = top + plot_h - (i + 1) * cell_h
        for j, value in enumerate(row):
            if value > 0:
                alpha = 0.15 + 0.85 * value / peak
                # Each cell sits at its own time: a gap in the data stays a gap in the picture.
                cell_x = max(left, left + (times[j] - window.start) / span * plot_w - cell_w)
                parts.append(
                    f'<rect x="{cell_x:.1f}" y="{y:.1f}" width="{cell_w:.1f}" height="{cell_h:.1f}" fill="#ff9830" fill-opacity="{alpha:.2f}"/>'
                )
        if i % max(1, len(series) // 5) == 0:
            parts.append(
                f'<text x="{left - 4}" y="{y + cell_h:.1f}" class="axis" text-anchor="end">{escape(series[i].labels["le"])}</text>'
            )
    bounds = [math.inf if s.labels["le"] == "+Inf" else float(s.labels["le"]) for s in series]
    for r in results:
        for ex in r.exemplars:
            row_index = next((i for i, b in enumerate(bounds) if ex.value <= b), len(bounds) - 1)
            cx = left + (ex.t - window.start) / (window.end - window.start) * plot_w
            cy = top + plot_h - (row_index + 0.5) * cell_h
            href = f"{jaeger_url.rstrip('/')}/trace/{ex.trace_id}"
            parts.append(
                f'<a href="{escape(href)}"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" class="exemplar"><title>trace {escape(ex.trace_id)}</title></circle></a>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _svg_states(results: Sequence[TargetResult], width: int, height: int, window: Window) -> str:
    """One lane per series, filled while the series has a value (an alert pending or firing)."""
    series = [(legend_name(s, r.legend), s) for r in results for s in r.series]
    if not series:
        return _no_data(width, height)
    left, top = 180, 4
    lane = max(8.0, min(22.0, (height - top - 18) / len(series)))
    span = window.end - window.start
    width_per_step = max(1.0, window.step / span * (width - left - 8))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">']
    for i, (name, s) in enumerate(series):
        y = top + i * lane
        short = name if len(name) <= 30 else name[:29] + "…"
        parts.append(
            f'<text x="{left - 4}" y="{y + lane * 0.7:.1f}" class="axis" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(short)}</text>"
        )
        color = "#e02f44" if "firing" in name else "#ff9830"
        for t, v in s.points:
            if not math.isnan(v) and v > 0:
                x = left + (t - window.start) / span * (width - left - 8)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{width_per_step:.1f}" height="{lane - 2:.1f}" fill="{color}"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _nz(value: float | None) -> float:
    return 0.0 if value is None or math.isnan(value) else value


def _stat(panel: Mapping[str, Any], results: Sequence[TargetResult]) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit, decimals = str(defaults.get("unit") or ""), defaults.get("decimals")
    texts: dict[str, tuple[str, str]] = {}
    for mapping in defaults.get("mappings") or []:
        for key, result in (mapping.get("options") or {}).items():
            texts[key] = (
                result.get("text", key),
                COLORS.get(result.get("color", ""), result.get("color", "")),
            )
    cells = []
    for r in results:
        for s in r.series or [Series({}, ())]:
            value = s.last()
            text = format_value(value, unit, int(decimals) if decimals is not None else None)
            color = threshold_color(value, r.thresholds)
            if value is not None and f"{value:g}" in texts:
                text, mapped = texts[f"{value:g}"]
                color = mapped or color
            name = legend_name(s, r.legend) if s.labels or r.legend not in ("", "__auto") else ""
            cells.append(
                f'<div class="stat" style="background:{escape(color)}"><b>{escape(text)}</b><small>{escape(name)}</small></div>'
            )
    return f'<div class="stats">{"".join(cells)}</div>'


def _bars(panel: Mapping[str, Any], results: Sequence[TargetResult]) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit, low, high = (
        str(defaults.get("unit") or ""),
        float(defaults.get("min", 0)),
        float(defaults.get("max", 1)),
    )
    rows = []
    for r in results:
        for s in r.series:
            value = s.last()
            share = 0.0 if value is None else min(1.0, max(0.0, (value - low) / ((high - low) or 1)))
            color = threshold_color(value, r.thresholds)
            rows.append(
                f'<div class="bar"><span>{escape(legend_name(s, r.legend))}</span><i style="width:{share * 100:.0f}%;background:{escape(color)}"></i>'
                f"<b>{escape(format_value(value, unit, defaults.get('decimals')))}</b></div>"
            )
    return "".join(rows) or '<p class="nodata">No data</p>'


def _table(panel: Mapping[str, Any], results: Sequence[TargetResult]) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit = str(defaults.get("unit") or "")
    series = [(r, s) for r in results for s in r.series]
    if not series:
        return '<p class="nodata">No data</p>'
    columns = sorted({k for _, s in series for k in s.labels if k != "__name__"})
    head = "".join(f"<th>{escape(c)}</th>" for c in columns) + "<th>Value</th>"
    rows = []
    for r, s in sorted(series, key=lambda rs: -(rs[1].last() or -math.inf)):
        value = s.last()
        color = threshold_color(value, r.thresholds)
        cells = "".join(f"<td>{escape(s.labels.get(c, ''))}</td>" for c in columns)
        rows.append(
            f'<tr>{cells}<td style="color:{escape(color)}">{escape(format_value(value, unit))}</td></tr>'
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _no_data(width: int, height: int) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart"><text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="nodata">No data</text></svg>'


def render_panel(
    panel: Mapping[str, Any], results: Sequence[TargetResult], window: Window, jaeger_url: str
) -> str:
    grid = panel.get("gridPos") or {}
    width = int(grid.get("w", 12)) * COLUMN_PX - 12
    height = int(grid.get("h", 8)) * ROW_PX - 62
    kind = panel.get("type")
    if kind == "stat":
        body = _stat(panel, results)
    elif kind == "bargauge":
        body = _bars(panel, results)
    elif kind == "table":
        body = _table(panel, results)
    elif kind == "heatmap":
        body = _svg_heatmap(panel, results, width, max(40, height), window, jaeger_url)
    elif kind == "state-timeline":
        body = _svg_states(results, width, max(40, height), window)
    else:
        body = _svg_lines(panel, results, width, max(40, height - 16), window, jaeger_url)
    errors = "".join(f'<p class="error">{escape(r.error)}</p>' for r in results if r.error)
    return body + errors


__all__ = [
    "COLUMN_PX",
    "escape",
    "MAX_EXEMPLARS",
    "ROW_PX",
    "TargetResult",
    "format_value",
    "render_panel",
    "run_panel",
]
