"""The demo's stand-in for Grafana and the Jaeger UI, at the environment's ``grafana_url`` and
``jaeger_url``, so the links in notifications and on dashboards lead somewhere:

- ``/d/<uid>?var-x=y`` draws the dashboard with ``obs preview`` (no PNG) over the last 30 minutes,
  from the run's Prometheus;
- ``/trace/<trace id>`` lists the spans the OTLP receiver got for that trace;
- ``/`` lists the dashboards of the build.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obs.content import Content
from obs.errors import ObsError
from obs.model import Environment, Platform
from obs.preview import preview
from obs.runtime import OtlpReceiver

log = logging.getLogger(__name__)
_UID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TRACE = re.compile(r"[0-9a-fA-F]{32}")
PREVIEW_RANGE = "30m"


class DemoWeb:
    """Serves dashboards and traces on 127.0.0.1:``port`` until :meth:`close`."""

    def __init__(self, port: int, platform: Platform, env: Environment, content: Content, prometheus_url: str, otlp: OtlpReceiver, out_dir: Path) -> None:
        self.platform, self.env, self.content = platform, env, content
        self.prometheus_url, self.otlp, self.out_dir = prometheus_url, otlp, out_dir
        self._lock = threading.Lock()  # one preview at a time: each runs every panel's queries
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = web.page(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="obs-demo-web", daemon=True)
        self._thread.start()

    def page(self, target: str) -> tuple[int, str]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        if path.startswith("/d/") and _UID.fullmatch(path[3:]):
            variables = {k.removeprefix("var-"): v[0] for k, v in parse_qs(parts.query).items() if k.startswith("var-")}
            return self.dashboard(path[3:], variables)
        if path.startswith("/trace/") and _TRACE.fullmatch(path[7:]):
            return 200, self.trace(path[7:].lower())
        if path == "":
            return 200, self.index()
        return 404, "<p>Not here: the demo serves /d/&lt;uid&gt; (dashboards) and /trace/&lt;id&gt; (traces).</p>"

    def dashboard(self, uid: str, variables: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            try:
                html_path, _ = preview(
                    self.platform, uid, self.prometheus_url, self.out_dir, env=self.env.name, time_range=PREVIEW_RANGE,
                    variables=variables, png=False, content=self.content,
                )  # fmt: skip
            except ObsError as exc:
                return 404, f"<p>{html.escape(str(exc))}</p>"
            return 200, html_path.read_text(encoding="utf-8")

    def trace(self, trace_id: str) -> str:
        spans = sorted(self.otlp.trace(trace_id), key=lambda s: s.start_unix_nano)
        if not spans:
            return f"<h1>Trace {trace_id}</h1><p>No span of this trace was received (not sampled, or not exported yet).</p>"
        start = spans[0].start_unix_nano
        rows = "".join(
            f"<tr><td>{html.escape(s.service_name)}</td><td>{html.escape(s.name)}</td><td>{(s.start_unix_nano - start) / 1e6:.1f}</td>"
            f"<td>{(s.end_unix_nano - s.start_unix_nano) / 1e6:.1f}</td><td>{s.status_code}</td><td>{s.span_id}</td><td>{s.parent_span_id}</td></tr>"
            for s in spans
        )
        return (
            f"<h1>Trace {trace_id}</h1><table border=1 cellpadding=3><tr><th>service</th><th>span</th><th>start (ms)</th>"
            f"<th>duration (ms)</th><th>status</th><th>span id</th><th>parent</th></tr>{rows}</table>"
        )

    def index(self) -> str:
        folder = self.out_dir.parent / "build" / self.env.name / "grafana" / "dashboards"
        uids = sorted(str(json.loads(p.read_text(encoding="utf-8")).get("uid", p.stem)) for p in folder.rglob("*.json"))
        items = "".join(f'<li><a href="/d/{html.escape(u)}">{html.escape(u)}</a></li>' for u in uids)
        return f"<h1>obs demo: {html.escape(self.platform.name)}/{html.escape(self.env.name)}</h1><p>Dashboards (drawn by obs preview):</p><ul>{items}</ul>"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


__all__ = ["DemoWeb"]
