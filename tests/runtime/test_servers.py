"""Every launcher starts the real server from its Debian package, and the handles and the API client
read real answers: one small stack on 127.0.0.1 (a prometheus_client endpoint, PostgreSQL, Redis,
their exporters, node and blackbox exporters, Prometheus with remote_write to VictoriaMetrics, a
Prometheus agent, vmalert, Alertmanager and the webhook sink), started once for the module."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from obs.runtime import (
    AlertmanagerAPI,
    ApiError,
    BinaryNotFoundError,
    PrometheusAPI,
    Server,
    Supervisor,
    VictoriaMetricsAPI,
    VmalertAPI,
    WebhookSink,
    free_port,
    require,
    start_alertmanager,
    start_blackbox_exporter,
    start_node_exporter,
    start_postgres,
    start_postgres_exporter,
    start_prometheus,
    start_redis,
    start_redis_exporter,
    start_victoria_metrics,
    start_vmalert,
    wait_until,
)
from obs.runtime.processes import parent_death_signal_supported
from tests.runtime.process_checks import all_gone, supervised_parent

pytestmark = pytest.mark.slow

SERVERS = (
    "prometheus", "prometheus-alertmanager", "victoria-metrics", "vmalert", "initdb", "postgres", "redis-server",
    "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-node-exporter", "prometheus-blackbox-exporter",
)  # fmt: skip
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def needs(*names: str) -> None:
    """Skip, naming the Debian packages to install, when a server binary is missing."""
    try:
        require(*names)
    except BinaryNotFoundError as missing:
        pytest.skip(str(missing))


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Stack:
    run_dir: Path
    app: str
    prometheus: PrometheusAPI
    alertmanager: AlertmanagerAPI
    vm: VictoriaMetricsAPI
    vmalert: VmalertAPI
    webhook: WebhookSink
    exporters: dict[str, Server]
    started: float


def alertmanager_config(webhook: WebhookSink) -> dict[str, Any]:
    def receiver(name: str) -> dict[str, Any]:
        return {"name": name, "webhook_configs": [{"url": webhook.url_for(name), "send_resolved": True}]}

    return {
        "route": {
            "receiver": "fallback", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h",
            "routes": [{"matchers": ['ruler="vmalert"'], "receiver": "global-page"}, {"matchers": ['severity="page"'], "receiver": "team-page"}],
        },
        "inhibit_rules": [{"source_matchers": ['alertname="DemoErrors"'], "target_matchers": ['alertname="DemoSymptom"'], "equal": ["job"]}],
        "receivers": [receiver("fallback"), receiver("team-page"), receiver("global-page")],
    }  # fmt: skip


PROMETHEUS_RULES = {
    "groups": [{"name": "demo", "rules": [
        {"record": "job:demo_requests:rate10s", "expr": "sum by (job) (rate(demo_requests_total[10s]))"},
        {"alert": "DemoErrors", "expr": "demo_errors_total > 0", "for": "1s",
         "labels": {"severity": "page", "ruler": "prometheus"}, "annotations": {"summary": "errors on {{ $labels.instance }}"}},
        {"alert": "DemoSymptom", "expr": "demo_requests_total > 0", "for": "1s", "labels": {"severity": "ticket", "ruler": "prometheus"}},
    ]}],
}  # fmt: skip

VMALERT_RULES = {
    "groups": [{"name": "global", "interval": "1s", "rules": [
        {"record": "cluster:demo_requests:sum", "expr": "sum by (cluster) (demo_requests_total)"},
        {"alert": "DemoErrorsGlobal", "expr": "sum by (cluster) (demo_errors_total) > 0", "labels": {"severity": "page", "ruler": "vmalert"}},
    ]}],
}  # fmt: skip


def prometheus_config(app: str, alertmanager: str, vm_write: str, exporters: dict[str, Server]) -> dict[str, Any]:
    def job(name: str, target: str) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": [target]}]}

    blackbox = {
        "job_name": "blackbox", "metrics_path": "/probe", "params": {"module": ["http_2xx"]},
        "static_configs": [{"targets": [f"http://{app}/metrics"]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporters["blackbox"].address},
        ],
    }  # fmt: skip
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "external_labels": {"cluster": "test"}},
        "rule_files": ["rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "remote_write": [{"url": vm_write, "queue_config": {"batch_send_deadline": "1s"}}],
        "scrape_configs": [job("app", app), *(job(n, s.address) for n, s in exporters.items() if n != "blackbox"), blackbox],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    needs(*SERVERS)
    run_dir = tmp_path_factory.mktemp("stack")
    registry = CollectorRegistry()
    requests = Counter("demo_requests", "Requests handled.", registry=registry)
    errors = Counter("demo_errors", "Requests failed.", registry=registry)
    requests.inc(3, exemplar={"trace_id": TRACE_ID})
    errors.inc()
    app_port = free_port()
    app_server, _ = start_http_server(app_port, addr="127.0.0.1", registry=registry)
    with Supervisor(run_dir) as sup:
        sup.on_close("app", lambda: (app_server.shutdown(), app_server.server_close()))
        webhook = WebhookSink()
        sup.on_close("webhook", webhook.close)
        started = time.monotonic()
        vm = start_victoria_metrics(sup)
        pg = start_postgres(sup)
        redis = start_redis(sup)
        blackbox_yml = write_yaml(run_dir / "blackbox.yml", {"modules": {"http_2xx": {"prober": "http", "timeout": "2s", "http": {"preferred_ip_protocol": "ip4"}}}})
        exporters = {
            "postgres": start_postgres_exporter(sup, pg.dsn()),
            "redis": start_redis_exporter(sup, redis.url),
            "node": start_node_exporter(sup),
            "blackbox": start_blackbox_exporter(sup, blackbox_yml),
        }
        am = start_alertmanager(sup, write_yaml(run_dir / "alertmanager.yml", alertmanager_config(webhook)))
        vm_api = VictoriaMetricsAPI(vm.url)
        config_dir = sup.data_dir("config")
        write_yaml(config_dir / "rules.yml", PROMETHEUS_RULES)
        app = f"127.0.0.1:{app_port}"
        prom = start_prometheus(sup, write_yaml(config_dir / "prometheus.yml", prometheus_config(app, am.address, vm_api.write_url, exporters)))
        agent_config = {
            "global": {"scrape_interval": "1s", "external_labels": {"cluster": "test", "replica": "agent"}},
            "remote_write": [{"url": vm_api.write_url, "queue_config": {"batch_send_deadline": "1s"}}],
            "scrape_configs": [{"job_name": "node-agent", "static_configs": [{"targets": [exporters["node"].address]}]}],
        }
        start_prometheus(sup, write_yaml(config_dir / "agent.yml", agent_config), name="prometheus-agent", agent=True)
        vmalert = start_vmalert(
            sup, [write_yaml(config_dir / "vmalert-rules.yml", VMALERT_RULES)], datasource_url=vm.url,
            notifier_urls=[am.url], remote_write_url=vm.url, remote_read_url=vm.url,
        )  # fmt: skip
        yield Stack(run_dir, app, PrometheusAPI(prom.url), AlertmanagerAPI(am.url), vm_api, VmalertAPI(vmalert.url), webhook, exporters, started)


def test_prometheus_scrapes_every_target(stack: Stack) -> None:
    def all_up() -> list[Any]:
        targets = stack.prometheus.targets()
        return targets if targets and all(t.up for t in targets) else []

    targets = wait_until(all_up, timeout=30, what="every target up")
    assert sorted(t.job for t in targets) == ["app", "blackbox", "node", "postgres", "redis"]
    assert {t.instance for t in targets if t.job == "app"} == {stack.app}
    assert all(t.scrape_url.startswith("http://127.0.0.1:") for t in targets)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("pg_up", 1.0),
        ("redis_up", 1.0),
        ('probe_success{job="blackbox"}', 1.0),
        ('count(node_cpu_seconds_total{mode="idle"}) > 0', None),
        ("node_memory_MemAvailable_bytes > 0", None),
        ('sum(node_scrape_collector_success{job="node"}) == count(node_scrape_collector_success{job="node"})', None),
    ],
)
def test_the_exporters_report_real_values(stack: Stack, expr: str, expected: float | None) -> None:
    value = wait_until(lambda: stack.prometheus.query(expr), timeout=30, what=f"{expr} has a value")
    if expected is not None:
        assert [s.value for s in value] == [expected]


def test_an_alert_reaches_alertmanager_and_the_receiver_of_its_route(stack: Stack) -> None:
    pages = stack.webhook.wait_for(lambda ns: bool([n for n in ns if n.receiver == "team-page"]), timeout=30)
    [notification] = [n for n in pages if n.receiver == "team-page"][:1]
    assert (notification.receiver, notification.status, notification.alertnames) == ("team-page", "firing", ("DemoErrors",))
    [alert] = notification.alerts
    assert alert["labels"] == {"alertname": "DemoErrors", "cluster": "test", "instance": stack.app, "job": "app", "ruler": "prometheus", "severity": "page"}
    assert alert["annotations"] == {"summary": f"errors on {stack.app}"}
    assert alert["generatorURL"].startswith("http://127.0.0.1:")
    held = {a.name: a for a in stack.alertmanager.alerts()}
    assert held["DemoErrors"].state == "active" and held["DemoErrors"].receivers == ("team-page",)


def test_alertmanager_reports_an_inhibited_alert(stack: Stack) -> None:
    def inhibited_symptom() -> Any:
        return [a for a in stack.alertmanager.alerts() if a.name == "DemoSymptom" and a.inhibited]

    [symptom] = wait_until(inhibited_symptom, timeout=30, what="DemoSymptom inhibited by DemoErrors")
    cause = next(a for a in stack.alertmanager.alerts() if a.name == "DemoErrors")
    assert (symptom.state, symptom.inhibited_by, symptom.silenced) == ("suppressed", (cause.fingerprint,), False)
    assert [a.name for a in stack.alertmanager.alerts(inhibited=False)].count("DemoSymptom") == 0


def test_alertmanager_status_shows_no_cluster_and_the_loaded_configuration(stack: Stack) -> None:
    status = stack.alertmanager.status()
    assert status.cluster_status == "disabled"
    assert "global-page" in status.config_yaml and status.version


def test_prometheus_rules_are_healthy_and_recorded(stack: Stack) -> None:
    def evaluated() -> Any:
        groups = stack.prometheus.rules()
        return groups if all(r.health == "ok" for g in groups for r in g.rules) else None

    [group] = wait_until(evaluated, timeout=30, what="every rule evaluated without error")
    assert group.name == "demo" and group.file.endswith("rules.yml") and group.interval == 1
    assert [(r.name, r.kind) for r in group.rules] == [("job:demo_requests:rate10s", "recording"), ("DemoErrors", "alerting"), ("DemoSymptom", "alerting")]
    assert [r.name for g in stack.prometheus.rules("alert") for r in g.rules] == ["DemoErrors", "DemoSymptom"]
    errors = next(r for r in group.rules if r.name == "DemoErrors")
    assert errors.for_seconds == 1 and errors.labels == {"severity": "page", "ruler": "prometheus"}
    firing = wait_until(lambda: [a for a in stack.prometheus.alerts() if a.name == "DemoErrors" and a.state == "firing"], timeout=30, what="DemoErrors firing")
    assert firing[0].labels["instance"] == stack.app and float(firing[0].value) == 1
    assert stack.prometheus.query('job:demo_requests:rate10s{job="app"}')[0].labels == {"__name__": "job:demo_requests:rate10s", "job": "app"}


def test_exemplars_and_ranges_come_back_from_prometheus(stack: Stack) -> None:
    now = time.time()
    series = wait_until(lambda: stack.prometheus.query_exemplars("demo_requests_total", now - 300, time.time() + 1), timeout=30, what="an exemplar")
    assert series[0].series_labels["job"] == "app"
    assert {e.labels["trace_id"] for s in series for e in s.exemplars} == {TRACE_ID}
    assert all(e.value == 3 for s in series for e in s.exemplars)
    [points] = stack.prometheus.query_range('demo_requests_total{job="app"}', now - 60, time.time(), 1)
    assert points.points and {v for _, v in points.points} == {3.0}


def test_victoria_metrics_gets_remote_write_with_the_external_labels(stack: Stack) -> None:
    def written(expr: str) -> Any:
        stack.vm.force_flush()
        return stack.vm.query(expr)

    assert stack.vm.healthy()
    [sample] = wait_until(lambda: written('demo_requests_total{job="app"}'), timeout=30, what="demo_requests_total in VictoriaMetrics")
    assert (sample.labels["cluster"], sample.labels["instance"], sample.value) == ("test", stack.app, 3.0)
    agent = wait_until(lambda: written('up{job="node-agent"}'), timeout=30, what="the agent's samples in VictoriaMetrics")
    assert [(s.labels["replica"], s.value) for s in agent] == [("agent", 1.0)]


def test_vmalert_evaluates_against_victoria_metrics_and_notifies_alertmanager(stack: Stack) -> None:
    def notified() -> Any:
        stack.vm.force_flush()  # new series are otherwise searchable only after ~10 s
        return stack.webhook.received(receiver="global-page", alertname="DemoErrorsGlobal")

    [notification, *_] = wait_until(notified, timeout=40, what="DemoErrorsGlobal at the global-page receiver")
    assert notification.alerts[0]["labels"] == {"alertname": "DemoErrorsGlobal", "alertgroup": "global", "cluster": "test", "ruler": "vmalert", "severity": "page"}
    assert notification.alerts[0]["generatorURL"].startswith("http://127.0.0.1:")
    [group] = stack.vmalert.rules()
    assert [(r.name, r.kind, r.health) for r in group.rules] == [("cluster:demo_requests:sum", "recording", "ok"), ("DemoErrorsGlobal", "alerting", "ok")]
    assert [(a.name, a.state) for a in stack.vmalert.alerts()] == [("DemoErrorsGlobal", "firing")]
    recorded = wait_until(lambda: (stack.vm.force_flush(), stack.vm.query("cluster:demo_requests:sum"))[1], timeout=30, what="vmalert's recording in VictoriaMetrics")
    assert [(s.labels["cluster"], s.value) for s in recorded] == [("test", 3.0)]


def test_the_api_client_errors_are_one_line_with_the_url(stack: Stack) -> None:
    with pytest.raises(ApiError, match=r"^GET http://127\.0\.0\.1:\d+/api/v1/query\?query=sum%28: HTTP 400: bad_data: .*parse error"):
        stack.prometheus.query("sum(")
    closed = PrometheusAPI(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert not closed.ready()
    with pytest.raises(ApiError, match=r"^GET http://127\.0\.0\.1:\d+/api/v1/alerts: cannot connect: .*[Cc]onnection refused"):
        closed.alerts()


def test_prometheus_reload_reports_a_broken_configuration(tmp_path: Path) -> None:
    needs("prometheus")
    config = write_yaml(tmp_path / "prometheus.yml", {"global": {"scrape_interval": "1s"}, "scrape_configs": []})
    with Supervisor(tmp_path) as sup:
        prom = PrometheusAPI(start_prometheus(sup, config).url)
        assert prom.ready()
        config.write_text("scrape_configs: [{job_name: x, scrape_interval: banana}]\n")
        with pytest.raises(ApiError, match=r"^POST http://127\.0\.0\.1:\d+/-/reload: HTTP 500: failed to reload config: .*not a valid duration string"):
            prom.reload()
        assert "scrape_interval: 1s" in prom.config_yaml(), "the broken configuration was not applied"
        config.write_text("global: {scrape_interval: 2s}\nscrape_configs: []\n")
        prom.reload()
        assert "scrape_interval: 2s" in prom.config_yaml()


def scrape(server: Server, metric: str) -> float | None:
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(metric + " "):
                return float(line.split()[1])
    return None


def test_a_stopped_dependency_is_seen_down_and_comes_back_on_restart(tmp_path: Path) -> None:
    needs("redis-server", "prometheus-redis-exporter")
    with Supervisor(tmp_path) as sup:
        redis = start_redis(sup)
        exporter = start_redis_exporter(sup, redis.url)
        assert scrape(exporter, "redis_up") == 1
        sup.stop("redis")
        assert scrape(exporter, "redis_up") == 0
        sup.restart("redis")
        assert scrape(exporter, "redis_up") == 1


def postgres_processes(postmaster: int) -> list[int]:
    """The postmaster and its children (each in a session of its own: only the postmaster stops them)."""
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (p / "stat").exists() and _ppid(p) == postmaster]
    return [postmaster, *children]


def _ppid(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_postgres_runs_in_its_private_folder_and_stops_with_all_its_processes(tmp_path: Path) -> None:
    needs("initdb", "postgres")
    with Supervisor(tmp_path) as sup:
        pg = start_postgres(sup)
        processes = postgres_processes(pg.process.pid)
        assert len(processes) >= 4, "postmaster, checkpointer, background writer, walwriter..."
        assert (pg.socket_dir / f".s.PGSQL.{pg.port}").is_socket()
        assert (pg.data_dir / "data" / "PG_VERSION").exists() and pg.dsn("app").endswith(f":{pg.port}/app?sslmode=disable")
        settings = (pg.data_dir / "data" / "postmaster.opts").read_text()
        assert "listen_addresses=127.0.0.1" in settings and "fsync=off" in settings
    assert "received fast shutdown request" in (tmp_path / "postgres.log").read_text()
    assert all_gone(processes) == []


@pytest.mark.skipif(not parent_death_signal_supported(), reason="needs Linux prctl(PR_SET_PDEATHSIG)")
def test_servers_die_with_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    """PostgreSQL runs as another account: the death signal must be asked for after the switch,
    which clears it."""
    needs("initdb", "postgres", "redis-server")
    with supervised_parent(tmp_path, "servers") as (parent, (postmaster, redis)):
        processes = [*postgres_processes(postmaster), redis]
        parent.kill()
        parent.wait(10)
        assert all_gone(processes, timeout=10) == [], "servers outlived a parent killed with SIGKILL"
