"""Live: VictoriaMetrics as the environment's metrics store, fed and read as obs generated it.

A real Prometheus runs the generated prometheus.yml and sends the instrumented service's samples to
VictoriaMetrics (Debian's 1.79) with remote_write; vmalert runs the generated ruler files with the
generated flags against it and notifies a real Alertmanager with the generated routing; every query
of the built dashboards runs against the store the way Grafana's generated datasource asks. Only
time is compressed: scrape and evaluation every second, every ``for`` and group interval at 1s,
group_wait 0s; vmalert's copy leaves ``keep_firing_for`` out (Debian's vmalert 1.79 predates it).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import yaml

from obs.model import MetricsStore, Platform
from obs.promql import substitute_grafana_variables
from obs.renderers import alertmanager
from obs.renderers.ruler import PLACEMENT_PATH
from obs.runtime import (
    PrometheusAPI,
    Supervisor,
    VictoriaMetricsAPI,
    VmalertAPI,
    WebhookSink,
    available,
    find_binary,
    http_ready,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
    start_victoria_metrics,
    wait_until,
)
from obs.writer import dump_yaml
from tests.scaleout.live import Service, build_env, dashboard_queries, query, time_compressed, vmalert_args
from tests.scaleout.platforms import live

SERVERS = ("prometheus", "prometheus-alertmanager", "victoria-metrics", "vmalert", "prometheus-node-exporter")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all(available(s) for s in SERVERS), reason=f"needs {', '.join(SERVERS)} (Debian packages)"),
]

DEADLINE_S = 90.0
REQUEST = 'http_server_requests_total{service="shop"}'


@dataclass
class Stack:
    platform: Platform
    env_dir: Path
    vm: VictoriaMetricsAPI
    prometheus: PrometheusAPI
    vmalert: VmalertAPI
    sink: WebhookSink
    placement: dict[str, Any]


def _traffic(service: Service, stop: threading.Event) -> None:
    """Half the requests fail: the availability SLO burns its budget 50x too fast."""
    deadline = time.monotonic() + 2 * DEADLINE_S + 60
    while not stop.is_set() and time.monotonic() < deadline:
        service.get("/ok")
        service.get("/fail")
        stop.wait(0.02)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("vm-live")
    stop = threading.Event()
    with Supervisor(tmp / "run") as sup, WebhookSink() as sink:
        vm = start_victoria_metrics(sup)
        node = start_node_exporter(sup)
        service_port, prometheus_port, alertmanager_port, vmalert_port = (sup.free_port() for _ in range(4))
        store = MetricsStore(kind="victoriametrics", write_url=f"{vm.url}/api/v1/write", query_url=vm.url)
        platform = live(
            service_port=service_port, prometheus_port=prometheus_port, alertmanager_port=alertmanager_port,
            node_port=node.port, store=store,
        )  # fmt: skip
        env_dir = build_env(platform, tmp / "build")
        env = platform.environments[0]
        routing = alertmanager.config(dataclasses.replace(platform, alert_webhook_url=sink.url_for("audit")), env)
        routing["route"].update(group_wait="0s", group_interval="1s")
        (tmp / "alertmanager.yml").write_text(dump_yaml(routing))
        service = Service("shop", service_port)
        traffic = threading.Thread(target=_traffic, args=(service, stop), daemon=True)
        try:
            start_alertmanager(sup, tmp / "alertmanager.yml", port=alertmanager_port)
            prometheus = start_prometheus(sup, env_dir / "prometheus" / "prometheus.yml", port=prometheus_port)
            rules = time_compressed(sorted((env_dir / "ruler" / "vmalert" / "rules").glob("*.yml")), tmp / "vmalert-rules", vmalert=True)
            assert rules, "no ruler files were built"
            vmalert_url = f"http://127.0.0.1:{vmalert_port}"
            sup.start("vmalert", [*find_binary("vmalert"), *vmalert_args(env_dir, tmp / "vmalert-rules", vmalert_port)], ready=http_ready(f"{vmalert_url}/health"))
            traffic.start()
            yield Stack(
                platform, env_dir, VictoriaMetricsAPI(vm.url), PrometheusAPI(prometheus.url), VmalertAPI(vmalert_url), sink,
                yaml.safe_load((env_dir / PLACEMENT_PATH).read_text()),
            )  # fmt: skip
        finally:
            stop.set()
            if traffic.is_alive():
                traffic.join(timeout=10)
            service.close()


def _groups(env_dir: Path, files: list[str]) -> set[str]:
    return {g["name"] for f in files for g in yaml.safe_load((env_dir / f).read_text())["groups"]}


def _series(stack: Stack, selector: str) -> list[dict[str, str]]:
    def found() -> list[dict[str, str]]:
        stack.vm.force_flush()  # new series are otherwise searchable ~10 s later
        return [dict(s.labels) for s in stack.vm.query(selector)]

    return wait_until(found, timeout=DEADLINE_S, what=f"{selector} in VictoriaMetrics", interval=0.5)


def test_series_arrive_with_the_environments_external_labels(stack: Stack) -> None:
    series = _series(stack, REQUEST)
    assert {s["http_response_status_code"] for s in series} >= {"200", "503"}
    for labels in series:
        assert labels["environment"] == "live" and labels["cluster"] == "live" and labels["region"] == "test-1"
        assert labels["job"] == "shop" and labels["team"] == "core"
        assert not {"prometheus_replica", "__replica__"} & set(labels)


def test_the_local_prometheus_evaluates_only_the_local_rules(stack: Stack) -> None:
    local = _groups(stack.env_dir, stack.placement["local"])
    ruler = _groups(stack.env_dir, [entry["file"] for entry in stack.placement["ruler"]])
    assert ruler and local and not local & ruler
    loaded = {g.name for g in stack.prometheus.rules()}
    assert loaded == local
    evaluated = wait_until(lambda: {g.name for g in stack.vmalert.rules()}, timeout=10, what="vmalert's groups")
    assert evaluated == ruler


def test_vmalert_records_the_slo_into_the_store_labelled_with_the_environment(stack: Stack) -> None:
    recorded = _series(stack, 'slo:sli_error:ratio_rate5m{service="shop"}')
    assert [(s["environment"], s["slo"]) for s in recorded] == [("live", "availability")]
    assert "alertgroup" not in recorded[0]  # -disableAlertgroupLabel: the same labels wherever a rule runs
    unhealthy = [(g.name, r.name, r.last_error) for g in stack.vmalert.rules() for r in g.rules if r.last_error]
    assert unhealthy == []


def test_the_rulers_burn_rate_alert_reaches_alertmanager(stack: Stack) -> None:
    notifications = stack.sink.wait_for(lambda ns: any("ErrorBudgetBurn" in n.alertnames for n in ns), timeout=DEADLINE_S)
    alerts = [a for n in notifications for a in n.alerts if a["labels"]["alertname"] == "ErrorBudgetBurn"]
    labels = alerts[0]["labels"]
    assert labels["environment"] == "live" and labels["service"] == "shop" and labels["slo"] == "availability"
    # The local Prometheus does not evaluate it: no alert is evaluated twice.
    assert not [a for a in stack.prometheus.alerts() if a.labels.get("alertname") == "ErrorBudgetBurn"]


def test_every_dashboard_query_runs_against_the_store(stack: Stack) -> None:
    _series(stack, 'slo:sli_error:ratio_rate5m{service="shop"}')  # the recordings the SLO panels read
    datasources = yaml.safe_load((stack.env_dir / "grafana/provisioning/datasources/obs.yml").read_text())
    (store,) = [d for d in datasources["datasources"] if d["uid"] == "prometheus-live"]
    params = dict(parse_qsl(store["jsonData"]["customQueryParameters"]))  # what Grafana adds to each query
    assert params == {"extra_label": "environment=live"}
    queries = list(dashboard_queries(stack.env_dir))
    assert len(queries) > 20
    failed, answered = [], 0
    for uid, title, expr in queries:
        answer = query(store["url"], substitute_grafana_variables(expr).replace('"var"', '"shop"'), **params)
        if answer.get("status") != "success":
            failed.append(f"{uid} / {title}: {answer.get('error', answer)}")
        elif answer["data"]["result"]:
            answered += 1
    assert failed == []
    assert answered >= 5, f"only {answered} of {len(queries)} dashboard queries returned data"
