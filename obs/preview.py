"""``obs preview``: a dashboard as a static HTML page (and a PNG) with real data, without a Grafana.

CI and reviewers see what a dashboard change looks like: every panel's queries run against a real
Prometheus (``query_range``, ``query`` and ``query_exemplars``), Grafana's variables are expanded
the way Grafana expands them, and the panels are drawn as inline SVG on the dashboard's own grid.
The page needs nothing from the network (no script, no CDN), so a headless Chromium can screenshot
it offline.

It is a preview, not Grafana: series are drawn as lines (stacking is ignored), a heatmap is drawn
from the bucket series, a state timeline as one lane per series, and query variables that have no
default take their "All" value.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from obs.content import EMPTY_CONTENT, Content
from obs.errors import RenderError
from obs.model import Environment, Platform, parse_duration

log = logging.getLogger(__name__)

COLUMN_PX = 50
ROW_PX = 30
MAX_POINTS = 240
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
#: Flags that keep a headless Chromium from reaching the network or a desktop session.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


# --- finding the dashboard ----------------------------------------------------------------------


def dashboard_json(platform: Platform, env: Environment, uid: str, content: Content = EMPTY_CONTENT) -> dict[str, Any]:
    """The JSON of a dashboard of the build by uid: the catalogue's or the platform's own."""
    from obs.artifacts import RenderContext, group
    from obs.grafana.provisioning import DASHBOARDS_DIR

    artifacts = group("grafana").render(RenderContext(platform, env, content))
    found = {
        str(a.content.get("uid")): a.content
        for a in artifacts
        if a.path.startswith(DASHBOARDS_DIR + "/") and isinstance(a.content, dict)
    }
    if uid not in found:
        raise RenderError(f"preview: no dashboard {uid!r} in platform {platform.name!r}: use one of {', '.join(sorted(found))}")
    return dict(found[uid])


# --- Grafana variables --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    step: int
    scrape_interval: int

    @property
    def rate_interval(self) -> int:
        # Grafana's definition: max(4 x scrape interval, step + scrape interval).
        return max(4 * self.scrape_interval, self.step + self.scrape_interval)

    @property
    def range_seconds(self) -> int:
        return max(1, round(self.end - self.start))


def make_window(
    time_range: str | tuple[datetime, datetime], scrape_interval: str, now: float | None = None
) -> Window:
    if isinstance(time_range, str):
        end = now if now is not None else time.time()
        start = end - parse_duration(time_range, "time_range")
    else:
        start, end = time_range[0].timestamp(), time_range[1].timestamp()
    if end <= start:
        raise RenderError(f"preview: the time range ends before it starts ({start} .. {end})")
    step = max(1, math.ceil((end - start) / MAX_POINTS))
    return Window(start, end, step, parse_duration(scrape_interval))


def variable_values(
    dashboard: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each template variable's value as Grafana would substitute it into a query."""
    values: dict[str, str] = {}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        name = variable.get("name")
        if not name or variable.get("type") == "datasource":
            continue
        current = (variable.get("current") or {}).get("value")
        if isinstance(current, list):
            current = "|".join(current) if len(current) != 1 else current[0]
        if current in (None, "", "$__all") or current == ["$__all"]:
            current = variable.get("allValue") or ".*"
        values[name] = str(current)
    values.update(overrides or {})
    return values


_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute(expr: str, values: Mapping[str, str], window: Window) -> str:
    builtins = {
        "__rate_interval": f"{window.rate_interval}s",
        "__interval": f"{window.step}s",
        "__range": f"{window.range_seconds}s",
        "__range_s": str(window.range_seconds),
        "__range_ms": str(window.range_seconds * 1000),
        "__interval_ms": str(window.step * 1000),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        return values.get(name, match.group(0))

    return _VAR.sub(replace, expr)


# --- Prometheus ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]

    def last(self) -> float | None:
        for _, value in reversed(self.points):
            if not math.isnan(value):
                return value
        return None


@dataclass(frozen=True, slots=True)
class Exemplar:
    t: float
    value: float
    trace_id: str


class Prometheus:
    """The three read endpoints a preview needs, over plain HTTP."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: Mapping[str, str | float]) -> Any:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        request = urllib.request.Request(f"{self.url}{path}?{query}", headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # Prometheus answers a bad query with 400 and a JSON error: that is the panel's problem.
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise QueryError(f"HTTP {exc.code} from {path}") from None
        if body.get("status") != "success":
            raise QueryError(str(body.get("error") or body))
        return body["data"]

    def check(self) -> None:
        try:
            self._get("/api/v1/status/buildinfo", {})
        except (OSError, QueryError) as exc:
            raise RenderError(f"preview: cannot reach Prometheus at {self.url}: {exc}") from None

    def query_range(self, expr: str, window: Window) -> list[Series]:
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": window.start, "end": window.end, "step": window.step},
        )
        return [
            Series(r.get("metric", {}), tuple((float(t), _float(v)) for t, v in r.get("values", [])))
            for r in data.get("result", [])
        ]

    def query(self, expr: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": expr, "time": at})
        if data.get("resultType") == "scalar":
            t, v = data["result"]
            return [Series({}, ((float(t), _float(v)),))]
        return [
            Series(r.get("metric", {}), ((float(r["value"][0]), _float(r["value"][1])),))
            for r in data.get("result", [])
        ]

    def exemplars(self, expr: str, window: Window) -> list[Exemplar]:
        try:
            data = self._get(
                "/api/v1/query_exemplars", {"query": expr, "start": window.start, "end": window.end}
            )
        except QueryError:
            return []  # exemplar storage is optional in Prometheus: no dots rather than no panel
        found: list[Exemplar] = []
        for group in data or []:
            for ex in group.get("exemplars") or []:
                trace_id = (ex.get("labels") or {}).get("trace_id")
                if trace_id:
                    found.append(Exemplar(float(ex["timestamp"]), _float(ex["value"]), trace_id))
        return found


class QueryError(Exception):
    """Prometheus refused a query; shown in the panel, never fatal to the preview."""


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


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


def _esc(text: Any) -> str:
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
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" class="axis" text-anchor="end">{_esc(format_value(value, unit))}</text>'
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
                    f'stroke="{_esc(color)}" stroke-dasharray="4 3" class="threshold"/>'
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
                f'<a href="{_esc(href)}"><circle cx="{x(ex.t):.1f}" cy="{y(ex.value):.1f}" r="3" class="exemplar">'
                f"<title>trace {_esc(ex.trace_id)}: {_esc(format_value(ex.value, unit))}</title></circle></a>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{_esc(name)}</span>'
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
                f'<text x="{left - 4}" y="{y + cell_h:.1f}" class="axis" text-anchor="end">{_esc(series[i].labels["le"])}</text>'
            )
    bounds = [math.inf if s.labels["le"] == "+Inf" else float(s.labels["le"]) for s in series]
    for r in results:
        for ex in r.exemplars:
            row_index = next((i for i, b in enumerate(bounds) if ex.value <= b), len(bounds) - 1)
            cx = left + (ex.t - window.start) / (window.end - window.start) * plot_w
            cy = top + plot_h - (row_index + 0.5) * cell_h
            href = f"{jaeger_url.rstrip('/')}/trace/{ex.trace_id}"
            parts.append(
                f'<a href="{_esc(href)}"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" class="exemplar"><title>trace {_esc(ex.trace_id)}</title></circle></a>'
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
            f"<title>{_esc(name)}</title>{_esc(short)}</text>"
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
                f'<div class="stat" style="background:{_esc(color)}"><b>{_esc(text)}</b><small>{_esc(name)}</small></div>'
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
                f'<div class="bar"><span>{_esc(legend_name(s, r.legend))}</span><i style="width:{share * 100:.0f}%;background:{_esc(color)}"></i>'
                f"<b>{_esc(format_value(value, unit, defaults.get('decimals')))}</b></div>"
            )
    return "".join(rows) or '<p class="nodata">No data</p>'


def _table(panel: Mapping[str, Any], results: Sequence[TargetResult]) -> str:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit = str(defaults.get("unit") or "")
    series = [(r, s) for r in results for s in r.series]
    if not series:
        return '<p class="nodata">No data</p>'
    columns = sorted({k for _, s in series for k in s.labels if k != "__name__"})
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns) + "<th>Value</th>"
    rows = []
    for r, s in sorted(series, key=lambda rs: -(rs[1].last() or -math.inf)):
        value = s.last()
        color = threshold_color(value, r.thresholds)
        cells = "".join(f"<td>{_esc(s.labels.get(c, ''))}</td>" for c in columns)
        rows.append(f'<tr>{cells}<td style="color:{_esc(color)}">{_esc(format_value(value, unit))}</td></tr>')
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
    errors = "".join(f'<p class="error">{_esc(r.error)}</p>' for r in results if r.error)
    return body + errors


# --- the page -----------------------------------------------------------------------------------

CSS = """
body{margin:0;background:#111217;color:#ccccdc;font:12px/1.3 Inter,Helvetica,Arial,sans-serif}
header{padding:10px 14px;border-bottom:1px solid #2c3235}header h1{font-size:18px;margin:0 0 4px}
header p{margin:0;color:#8e8e8e}.board{position:relative;margin:8px}
.panel{position:absolute;box-sizing:border-box;background:#181b1f;border:1px solid #2c3235;border-radius:2px;padding:4px 6px;overflow:hidden}
.panel h2{font-size:13px;margin:0;color:#fff;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.panel .desc{color:#8e8e8e;font-size:10px;height:26px;overflow:hidden;margin:1px 0 2px}
.row{position:absolute;font-size:14px;font-weight:600;color:#fff;border-bottom:1px solid #2c3235}
.chart .grid{stroke:#2c3235}.chart .axis{fill:#8e8e8e;font-size:10px}.chart .exemplar{fill:#f0f;stroke:#fff;stroke-width:.5}
.nodata{fill:#8e8e8e;color:#8e8e8e;text-align:center}.error{color:#e02f44;margin:2px 0;font-size:10px}
.legend{font-size:10px;white-space:nowrap;overflow:hidden}.key{margin-right:8px}.key i{display:inline-block;width:10px;height:3px;margin-right:3px;vertical-align:middle}
.stats{display:flex;gap:4px;height:calc(100% - 50px)}.stat{flex:1;display:flex;flex-direction:column;justify-content:center;align-items:center;border-radius:2px;color:#fff}
.stat b{font-size:20px}.stat small{font-size:10px}
.bar{display:flex;align-items:center;gap:4px;margin:3px 0}.bar span{width:35%;overflow:hidden;white-space:nowrap}.bar i{height:12px;display:block}.bar b{margin-left:auto}
table{border-collapse:collapse;width:100%;font-size:11px}th,td{text-align:left;padding:2px 4px;border-bottom:1px solid #2c3235}
"""


def render_html(
    dashboard: Mapping[str, Any], panels: Iterable[tuple[Mapping[str, Any], str]], *, subtitle: str
) -> str:
    blocks = []
    bottom = 0
    for panel, body in panels:
        grid = panel.get("gridPos") or {}
        x, y, w, h = (int(grid.get(k, d)) for k, d in (("x", 0), ("y", 0), ("w", 12), ("h", 8)))
        bottom = max(bottom, y + h)
        style = (
            f"left:{x * COLUMN_PX}px;top:{y * ROW_PX}px;width:{w * COLUMN_PX - 4}px;height:{h * ROW_PX - 4}px"
        )
        if panel.get("type") == "row":
            blocks.append(f'<div class="row" style="{style}">{_esc(panel.get("title", ""))}</div>')
            continue
        blocks.append(
            f'<section class="panel" id="panel-{_esc(panel.get("id"))}" style="{style}">'
            f'<h2 title="{_esc(panel.get("description", ""))}">{_esc(panel.get("title", ""))}</h2>'
            f'<p class="desc">{_esc(panel.get("description", ""))}</p>{body}</section>'
        )
    height = bottom * ROW_PX + 16
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(dashboard.get('title', ''))} (preview)</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_esc(dashboard.get('title', ''))}</h1><p>{_esc(subtitle)}</p></header>"
        f'<main class="board" style="height:{height}px;width:{24 * COLUMN_PX}px">{"".join(blocks)}</main></body></html>\n'
    )


def find_chromium() -> list[str] | None:
    override = os.environ.get("OBS_CHROMIUM")
    if override:
        return shlex.split(override)
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return [found]
    return None


def screenshot(
    html_path: Path, png_path: Path, width: int, height: int, timeout: float = 60.0
) -> Path | None:
    """PNG of the page through headless Chromium, or None (with a warning) when there is none."""
    command = find_chromium()
    if command is None:
        log.warning(
            "preview: no PNG: Chromium not found (apt-get install -y chromium, or set OBS_CHROMIUM); the HTML is complete"
        )
        return None
    with tempfile.TemporaryDirectory(prefix="obs-chromium-") as profile:
        args = [
            *command,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(
                f"preview: Chromium took more than {timeout:g} s to screenshot {html_path}"
            ) from None
    if proc.returncode != 0 or not png_path.exists():
        raise RenderError(
            f"preview: Chromium failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}"
        )
    return png_path


def preview(
    platform: Platform,
    dashboard_uid: str,
    prometheus_url: str,
    out_dir: Path,
    *,
    env: str | None = None,
    time_range: str | tuple[datetime, datetime] = "1h",
    variables: Mapping[str, str] | None = None,
    png: bool = True,
    content: Content = EMPTY_CONTENT,
) -> tuple[Path, Path | None]:
    """Render ``dashboard_uid`` with data from ``prometheus_url`` into ``out_dir/<uid>.html`` and,
    when Chromium is installed, ``out_dir/<uid>.png``. ``time_range`` is a duration ending now
    (``"1h"``) or a (start, end) pair; ``variables`` override template variable values."""
    environment = platform.environment(env)
    dashboard = dashboard_json(platform, environment, dashboard_uid, content)
    prom = Prometheus(prometheus_url)
    prom.check()
    window = make_window(time_range, environment.scrape_interval)
    values = variable_values(dashboard, variables)
    from obs.grafana.lint import iter_panels

    rendered: list[tuple[Mapping[str, Any], str]] = []
    for panel in iter_panels(dashboard):
        if panel.get("type") == "row":
            rendered.append((panel, ""))
            continue
        rendered.append(
            (panel, render_panel(panel, run_panel(prom, panel, values, window), window, platform.jaeger_url))
        )
    start = datetime.fromtimestamp(window.start, UTC)
    span = timedelta(seconds=window.range_seconds)
    chosen = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
    subtitle = (
        f"Preview of {dashboard_uid} ({environment.name}) from {prometheus_url}, "
        f"{start:%Y-%m-%d %H:%M} UTC + {span}, step {window.step}s" + (f"; {chosen}" if chosen else "")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{dashboard_uid}.html"
    html_path.write_text(render_html(dashboard, rendered, subtitle=subtitle), encoding="utf-8")
    if not png:
        return html_path, None
    bottom = max(
        (
            int((p.get("gridPos") or {}).get("y", 0)) + int((p.get("gridPos") or {}).get("h", 0))
            for p, _ in rendered
        ),
        default=10,
    )
    png_path = screenshot(
        html_path, out_dir / f"{dashboard_uid}.png", 24 * COLUMN_PX + 16, bottom * ROW_PX + 90
    )
    return html_path, png_path


__all__ = [
    "CHROMIUM_FLAGS",
    "Prometheus",
    "Window",
    "dashboard_json",
    "find_chromium",
    "format_value",
    "make_window",
    "preview",
    "render_html",
    "screenshot",
    "substitute",
    "variable_values",
]
