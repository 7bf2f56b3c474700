"""Every alert's dashboard link opens a panel that shows what the alert measures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from edu_platform import platform
from obs.builder import render
from obs.promql import selected_metrics, substitute_grafana_variables
from obs.renderers.alertmanager import WATCHDOG

#: Alerts whose panel shows what to look at rather than what they measure, and why.
ELSEWHERE = {
    # Always firing: when its heartbeat stops, notifications are what failed (or Prometheus is down).
    WATCHDOG: "Notification failures",
}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _linked_panels() -> list[tuple[str, str, set[str], dict[str, Any]]]:
    files = render(platform, ["prod"], ["rules", "grafana"]).files
    dashboards = {
        d["uid"]: d for d in (json.loads(text) for path, text in files.items() if "/grafana/dashboards/" in path)
    }
    linked = []
    for path, text in sorted(files.items()):
        if "/prometheus/rules/" not in path:
            continue
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                url = urlparse(rule.get("annotations", {}).get("dashboard_url", ""))
                view = parse_qs(url.query).get("viewPanel")
                if "alert" not in rule or not view:
                    continue
                uid = url.path.rsplit("/", 1)[1]
                panel = next(p for p in _panels(dashboards[uid]) if p.get("id") == int(view[0]))
                linked.append((rule["alert"], uid, selected_metrics(rule["expr"])[0], panel))
    return linked


LINKED = _linked_panels()


@pytest.mark.parametrize(
    ("alert", "uid", "measured", "panel"), LINKED, ids=[f"{a}->{u}#{p['id']}" for a, u, _, p in LINKED]
)
def test_the_linked_panel_queries_a_metric_the_alert_reads(
    alert: str, uid: str, measured: set[str], panel: dict[str, Any]
) -> None:
    shown: set[str] = set()
    for target in panel.get("targets", []):
        if target.get("expr"):
            shown |= selected_metrics(substitute_grafana_variables(target["expr"]))[0]
    if alert in ELSEWHERE:
        assert panel["title"] == ELSEWHERE[alert]
    else:
        assert measured & shown, f"{alert} reads {sorted(measured)}; panel {panel['title']!r} shows {sorted(shown)}"


def test_every_kind_of_alert_is_covered() -> None:
    assert {"PrometheusConfigReloadFailed", "AlertmanagerConfigReloadFailed", "MetricsAbsent", "TargetDown"} <= {
        alert for alert, *_ in LINKED
    }
