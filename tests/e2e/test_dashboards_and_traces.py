"""On the running stack, after the story of test_story.py: every dashboard panel's query returns data
(or is listed with the reason it may be empty), and exemplars on the services' latency histograms
are trace ids the OTLP receiver got spans for, that the services' log lines carry too."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from obs import contract
from obs.grafana.lint import iter_panels
from obs.preview import make_window, substitute, variable_values
from obs.runtime import ApiError
from tests.e2e.conftest import Running
from tests.e2e.helpers import fastest_page, wait_for

pytestmark = pytest.mark.slow

#: (dashboard uid, panel title) → why its queries may return nothing on a healthy loopback run.
MAY_BE_EMPTY: dict[tuple[str, str], str] = {
    ("obs-alerts", "Targets down"): "no scrape target is down in the story: a stopped datastore leaves its exporter up (redis_up 0)",
    ("obs-blackbox", "TLS certificate expiry"): "the probed stand-in sites serve plain http: there is no certificate to expire",
}


def _dashboards(build_env: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((build_env / "grafana" / "dashboards").rglob("*.json"))]


def test_every_dashboard_panel_returns_data_or_is_listed_with_its_reason(running: Running) -> None:
    stack = running.stack
    window = make_window("1h", stack.env.scrape_interval)
    window = type(window)(max(window.start, running.started - 60), window.end, max(1, window.step // 10), window.scrape_interval)
    empty: dict[tuple[str, str], list[str]] = {}
    failed: list[str] = []
    panels = 0
    for dashboard in _dashboards(stack.build_dir):
        values = variable_values(dashboard)
        for panel in iter_panels(dashboard):
            targets = [t for t in panel.get("targets") or [] if t.get("expr") and not t.get("hide")]
            if panel.get("type") == "row" or not targets:
                continue
            panels += 1
            for target in targets:
                expr = substitute(str(target["expr"]), values, window)
                try:
                    if target.get("instant"):
                        data = stack.prometheus.query(expr, at=window.end)
                    else:
                        data = stack.prometheus.query_range(expr, window.start, window.end, window.step)  # type: ignore[assignment]
                except ApiError as exc:
                    failed.append(f"{dashboard['uid']} / {panel.get('title')}: {exc}")
                    continue
                if not data:
                    empty.setdefault((dashboard["uid"], str(panel.get("title"))), []).append(expr)
    print(f"{panels} panels, {len(empty)} empty: " + "; ".join(f"{uid} / {title}" for uid, title in sorted(empty)))
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    unexplained = {key: exprs for key, exprs in empty.items() if key not in MAY_BE_EMPTY}
    assert not unexplained, "panels without data and without a listed reason:\n" + "\n".join(f"{k}: {v}" for k, v in sorted(unexplained.items()))


def _exemplar_trace_ids(running: Running, service: str) -> list[str]:
    stack = running.stack
    series = stack.prometheus.query_exemplars(f'{contract.HTTP_SERVER_DURATION.name}_bucket{{service="{service}"}}', running.started - 60, time.time())
    return sorted({e.labels["trace_id"] for s in series for e in s.exemplars if "trace_id" in e.labels})


def _trace_id(line: str) -> str | None:
    """The trace id of one JSON log line (None for other lines: the supervisor's, a line being written)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get(contract.TRACE_ID_FIELD) if isinstance(record, dict) else None


#: The FastAPI service under uvicorn (one process) and the Flask one under gunicorn with several
#: workers (multiprocess metrics; exemplars kept per worker by exporters.exemplars).
@pytest.mark.parametrize("service", ["backend", "bridge"])
def test_exemplar_trace_ids_resolve_to_received_spans_and_log_lines(running: Running, service: str) -> None:
    stack = running.stack
    assert stack.otlp is not None
    ids, _ = wait_for(lambda: _exemplar_trace_ids(running, service), 30, f"exemplars on {service}'s latency histogram")
    sample = ids[:20]
    wait_for(lambda: set(sample) <= stack.otlp.trace_ids(), 15, f"spans of {service}'s exemplar traces at the OTLP receiver")  # type: ignore[union-attr]
    for trace_id in sample:
        spans = stack.otlp.trace(trace_id)
        assert any(s.service_name == service and s.kind == 2 for s in spans), f"trace {trace_id}: no server span of {service} in {spans}"
    logged = {_trace_id(text) for text in stack.log_path(service).read_text(encoding="utf-8").splitlines()}
    missing = [t for t in sample if t not in logged]
    assert not missing, f"{service}'s log has no line with trace.id {missing[:3]}"
    # The exemplar's link (the Jaeger UI's /trace/<id>) opens the trace on the demo's stand-in.
    page = _get(f"{stack.here.jaeger_url}/trace/{sample[0]}")
    assert f"Trace {sample[0]}" in page and f"<td>{service}</td>" in page


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:
        return str(response.read().decode())


def test_an_alerts_dashboard_link_opens_the_dashboard_on_the_grafana_stand_in(running: Running) -> None:
    stack = running.stack
    rule = fastest_page(stack, "backend", "availability")
    link = rule["annotations"]["dashboard_url"]
    assert link.startswith(stack.here.grafana_url + "/d/obs-slo?")
    page = _get(link)
    assert "Preview of obs-slo" in page and "service=backend" in page
