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

import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from obs.content import EMPTY_CONTENT, Content
from obs.errors import RenderError
from obs.model import Environment, Platform
from obs.preview.draw import (
    COLUMN_PX,
    MAX_EXEMPLARS,
    ROW_PX,
    TargetResult,
    escape,
    format_value,
    render_panel,
    run_panel,
)
from obs.preview.query import Exemplar, Prometheus, QueryError, Series
from obs.preview.variables import Window, make_window, substitute, variable_values

log = logging.getLogger(__name__)
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


def dashboard_json(
    platform: Platform, env: Environment, uid: str, content: Content = EMPTY_CONTENT
) -> dict[str, Any]:
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
        raise RenderError(
            f"preview: no dashboard {uid!r} in platform {platform.name!r}: use one of {', '.join(sorted(found))}"
        )
    return dict(found[uid])


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
            blocks.append(f'<div class="row" style="{style}">{escape(panel.get("title", ""))}</div>')
            continue
        blocks.append(
            f'<section class="panel" id="panel-{escape(panel.get("id"))}" style="{style}">'
            f'<h2 title="{escape(panel.get("description", ""))}">{escape(panel.get("title", ""))}</h2>'
            f'<p class="desc">{escape(panel.get("description", ""))}</p>{body}</section>'
        )
    height = bottom * ROW_PX + 16
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(dashboard.get('title', ''))} (preview)</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(dashboard.get('title', ''))}</h1><p>{escape(subtitle)}</p></header>"
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
    "MAX_EXEMPLARS",
    "Exemplar",
    "Prometheus",
    "QueryError",
    "Series",
    "TargetResult",
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
