"""The report a demo run leaves: one HTML page with the settings, the incidents, the timeline, every
notification the receivers got, and ``obs preview`` images of the story's service dashboard and
the SLO dashboard over the run (real data from the run's Prometheus)."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from obs import links
from obs.content import load_content
from obs.demo.observe import Delivery, Event
from obs.demo.scenario import Incident
from obs.demo.stack import Stack
from obs.errors import ObsError
from obs.preview import preview

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Preview:
    uid: str
    html_path: Path
    png_path: Path | None
    error: str = ""


def dashboard_previews(stack: Stack, uids: Sequence[str], start: float, end: float, out_dir: Path) -> list[Preview]:
    """``obs preview`` of each dashboard over ``start``..``end``, from the stack's Prometheus."""
    project = stack.options.project
    content = load_content(stack.platform, stack.env, project.root, project.allow_code)
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(max(end, start + 60), UTC))
    found: list[Preview] = []
    for uid in uids:
        try:
            html_path, png_path = preview(stack.platform, uid, stack.prometheus.base_url, out_dir, env=stack.env.name, time_range=window, content=content)
            found.append(Preview(uid, html_path, png_path))
        except ObsError as exc:  # one dashboard that cannot be drawn does not lose the report
            log.warning("report: no preview of %s: %s", uid, exc)
            found.append(Preview(uid, out_dir / f"{uid}.html", None, str(exc)))
    return found


def story_dashboards(service: str) -> list[str]:
    """The dashboards a story is told with: the service's own and the SLO overview."""
    return [links.service_dashboard_uid(service), links.SLO_UID]


def _when(at: float, started: float, scale: float) -> str:
    wall = max(0.0, at - started)
    return f"{time.strftime('%H:%M:%S', time.localtime(at))}</td><td>{int(wall) // 60}:{int(wall) % 60:02d}</td><td>{_platform(wall * scale)}"


def _platform(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{int(seconds % 60):02d}s"


CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}"
    ".scenario{background:#fff4e0}.alert{background:#fde8e8}.notification{background:#e8f0fd}img{max-width:100%;border:1px solid #ccc}"
)


def write_report(
    stack: Stack, out_dir: Path, *, started: float, ended: float, incidents: Sequence[Incident], events: Sequence[Event],
    deliveries: Sequence[Delivery], previews: Sequence[Preview], traffic: dict[str, dict[str, int]],
) -> Path:  # fmt: skip
    """Write ``out_dir/index.html`` and return its path."""
    esc = html.escape
    scale = stack.options.time_scale
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f'<tr class="{esc(e.kind)}"><td>{_when(e.at, started, scale)}</td><td>{esc(e.kind)}</td><td>{esc(e.text)}</td></tr>'
        for e in sorted(events, key=lambda e: e.at)
    )
    sent = [d for d in deliveries if d.receiver != "heartbeat"]
    notes = "".join(
        f"<tr><td>{_when(d.at, started, scale)}</td><td>{esc(d.receiver)}</td><td>{esc(d.status)}</td><td>{esc(', '.join(d.alertnames))}</td><td>{esc(d.text)}</td></tr>"
        for d in sent
    )
    planned = "".join(f"<li>{_platform(i.start)} for {_platform(i.duration)}: {esc(i.describe())}</li>" for i in incidents) or "<li>none (healthy traffic only)</li>"
    images = "".join(
        f"<h3>{esc(p.uid)}</h3>"
        + (f'<a href="{esc(p.html_path.name)}"><img src="{esc(p.png_path.name)}" alt="{esc(p.uid)}"></a>' if p.png_path else f'<p><a href="{esc(p.html_path.name)}">HTML preview</a> (no PNG: {esc(p.error or "Chromium not installed")})</p>')
        for p in previews
    )
    counts = "; ".join(f"{s}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for s, c in sorted(traffic.items()))
    heartbeats = len(deliveries) - len(sent)
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>obs demo: {esc(stack.platform.name)} {esc(stack.env.name)}</title><style>{CSS}</style></head><body>
<h1>obs demo: platform {esc(stack.platform.name)}, environment {esc(stack.env.name)}</h1>
<p>{datetime.fromtimestamp(started, UTC):%Y-%m-%d %H:%M:%S} UTC, {int(ended - started)} s of wall time; time scale &times;{scale:g}
(rules, windows and Alertmanager timings divided by {scale:g}: see docs/demo.md); run folder <code>{esc(str(stack.run_dir))}</code>.</p>
<p>Traffic sent: {esc(counts)}. Watchdog heartbeats received: {heartbeats}.</p>
<h2>Incidents (platform time)</h2><ul>{planned}</ul>
<h2>Dashboards during the run</h2>{images}
<h2>Timeline</h2><table><tr><th>time</th><th>elapsed</th><th>platform time</th><th>kind</th><th>what</th></tr>{rows}</table>
<h2>Notifications ({len(sent)})</h2><table><tr><th>time</th><th>elapsed</th><th>platform time</th><th>receiver</th><th>status</th><th>alerts</th><th>text</th></tr>{notes}</table>
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(body, encoding="utf-8")
    return path


__all__ = ["Preview", "dashboard_previews", "story_dashboards", "write_report"]
