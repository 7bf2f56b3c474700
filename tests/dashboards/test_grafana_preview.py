"""``obs preview`` against a real Prometheus scraping a prometheus_client exporter that emits the
contract's metrics (with trace-id exemplars), and the pure pieces it is made of."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from edu_platform import platform as edu
from obs import contract, links
from obs.builder import render
from obs.catalogue.dashboards.queries import BURN_ALERT
from obs.errors import RenderError
from obs.preview import Window, format_value, make_window, preview, substitute, variable_values
from obs.slo import SLOW_INTERVAL
from tests.conftest import free_port

# --- pure pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "text"),
    [
        (0.0123, "percentunit", None, "1.23%"),
        (0.99912, "percentunit", 3, "99.912%"),
        (0.25, "s", None, "250.0 ms"),
        (0.0000042, "s", None, "4.2 µs"),
        (7200, "s", None, "2.0 h"),
        (1536, "bytes", None, "1.5 KiB"),
        (12.5, "reqps", None, "12.5 req/s"),
        (14.4, "x", 1, "14.4x"),
        (2500, "short", None, "2.5k"),
        (None, "s", None, "No data"),
        (float("nan"), "s", None, "No data"),
    ],
)
def test_values_read_the_way_grafana_formats_the_unit(
    value: float | None, unit: str, decimals: int | None, text: str
) -> None:
    assert format_value(value, unit, decimals) == text


WINDOW = Window(start=0, end=3600, step=15, scrape_interval=15)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(x[$__rate_interval])", "rate(x[60s])"),
        ("increase(x[$__range])", "increase(x[3600s])"),
        ('x{service="$service", http_route=~"$route"}', 'x{service="backend", http_route=~".*"}'),
        ('x{service="${service}"}', 'x{service="backend"}'),
        ('x{a="$unknown"}', 'x{a="$unknown"}'),
    ],
)
def test_grafana_variables_are_expanded_like_grafana_does(expr: str, expected: str) -> None:
    assert substitute(expr, {"service": "backend", "route": ".*"}, WINDOW) == expected


def test_rate_interval_follows_grafanas_rule() -> None:
    # max(4 x scrape interval, step + scrape interval)
    assert Window(0, 3600, 15, 15).rate_interval == 60
    assert Window(0, 86400 * 7, 2520, 15).rate_interval == 2535


def test_variable_values_take_the_current_value_or_the_all_value() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "current": {"value": "prometheus-prod"}},
                {"name": "service", "type": "custom", "current": {"value": "backend"}},
                {"name": "route", "type": "query", "current": {"value": "$__all"}, "allValue": ".*"},
                {"name": "instance", "type": "query"},
            ]
        }
    }
    assert variable_values(dashboard) == {"service": "backend", "route": ".*", "instance": ".*"}
    assert variable_values(dashboard, {"route": "/api/courses"})["route"] == "/api/courses"


def test_time_ranges() -> None:
    window = make_window("1h", "30s", now=7200)
    assert (window.start, window.end, window.step, window.scrape_interval) == (3600, 7200, 15, 30)
    explicit = make_window((datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)), "15s")
    assert explicit.range_seconds == 86400 and explicit.step == 360
    with pytest.raises(RenderError, match="ends before it starts"):
        make_window((datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)), "15s")


def test_exemplars_are_thinned_evenly_keeping_the_slowest() -> None:
    from obs.preview.draw import MAX_EXEMPLARS, Exemplar, _thin

    many = [Exemplar(float(t), 0.1, f"{t:032x}") for t in range(1000)]
    many[537] = Exemplar(537.0, 9.9, "slowest")
    kept = _thin(many)
    assert len(kept) <= MAX_EXEMPLARS
    assert any(e.trace_id == "slowest" for e in kept)
    assert kept[0].t == 0 and kept[-1].t > 900
    assert _thin(many[:10]) == many[:10]


def test_an_unknown_dashboard_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"no dashboard 'nope'.*obs-overview"):
        preview(edu, "nope", "http://127.0.0.1:9", tmp_path)


def test_an_unreachable_prometheus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"cannot reach Prometheus at http://127\.0\.0\.1:\d+"):
        preview(edu, links.OVERVIEW_UID, f"http://127.0.0.1:{free_port()}", tmp_path)


# --- against a real Prometheus ------------------------------------------------------------------

TRACE_IDS: list[str] = []


def _exporter(port: int, stop: threading.Event) -> None:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

    registry = CollectorRegistry()
    duration = Histogram(
        contract.HTTP_SERVER_DURATION.prometheus_client_name,
        contract.HTTP_SERVER_DURATION.help,
        list(contract.HTTP_SERVER_DURATION.labels),
        buckets=contract.HTTP_DURATION_BUCKETS,
        registry=registry,
    )
    requests = Counter(
        contract.HTTP_SERVER_REQUESTS.prometheus_client_name,
        contract.HTTP_SERVER_REQUESTS.help,
        list(contract.HTTP_SERVER_REQUESTS.labels),
        registry=registry,
    )
    active = Gauge(
        contract.HTTP_SERVER_ACTIVE.name,
        contract.HTTP_SERVER_ACTIVE.help,
        list(contract.HTTP_SERVER_ACTIVE.labels),
        registry=registry,
    )
    Counter(
        contract.INSTRUMENTATION_ERRORS.prometheus_client_name,
        contract.INSTRUMENTATION_ERRORS.help,
        ["stage"],
        registry=registry,
    ).labels("metrics")
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    rng = random.Random(7)
    routes = ["/api/courses", "/api/submissions", "/api/auth/login"]
    try:
        while not stop.is_set():
            for _ in range(20):
                route = rng.choice(routes)
                status = "500" if rng.random() < 0.05 else "200"
                trace_id = f"{rng.getrandbits(128):032x}"
                TRACE_IDS.append(trace_id)
                duration.labels("GET", route).observe(rng.expovariate(1 / 0.08), {"trace_id": trace_id})
                requests.labels("GET", route, status).inc()
            active.labels("GET").set(rng.randint(0, 5))
            stop.wait(0.2)
    finally:
        server.shutdown()


def _get_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


#: The SLO of the always-firing burn-rate alert: no SLO of the built-in platform is called so.
PREVIEW_SLO = "preview"


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install -y prometheus)")
    tmp = tmp_path_factory.mktemp("prometheus")
    exporter_port, prom_port = free_port(), free_port()
    stop = threading.Event()
    thread = threading.Thread(target=_exporter, args=(exporter_port, stop), daemon=True)
    thread.start()
    # A burn-rate alert that always fires, of an SLO the build does not have (so no real rule can
    # fire it), so the alert-state panels have data.
    rules = {
        "groups": [
            {
                "name": "preview",
                "rules": [
                    {
                        "alert": BURN_ALERT,
                        "expr": "vector(1)",
                        "labels": {"service": "backend", "slo": PREVIEW_SLO, "severity": "page"},
                    }
                ],
            }
        ]
    }
    (tmp / "rules.yml").write_text(yaml.safe_dump(rules))
    # The SLO panels read the recording rules: load backend's, as the build writes them, with the
    # long-window groups (the 1d/3d/30d ratios, the budget left: every 2m) evaluated every second,
    # so the 30d and budget-left panels have data within the fixture's few seconds.
    slo_rules = []
    compressed = 0
    for rel, content in render(edu, environments=["dev"], groups=["rules"]).files.items():
        if rel.startswith("dev/prometheus/rules/slo-backend-"):
            document = yaml.safe_load(content)
            for group in document["groups"]:
                if group.get("interval") == SLOW_INTERVAL:
                    group["interval"] = "1s"
                    compressed += 1
            slo_rules.append(tmp / rel.rsplit("/", 1)[1])
            slo_rules[-1].write_text(yaml.safe_dump(document, sort_keys=False))
    assert slo_rules, "the build records no SLO of backend"
    assert compressed == len(slo_rules), f"each SLO file has one group every {SLOW_INTERVAL}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml"), *map(str, slo_rules)],
        "scrape_configs": [
            {
                "job_name": "backend",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{exporter_port}"],
                        "labels": {contract.SERVICE_LABEL: "backend", contract.TEAM_LABEL: "learning"},
                    }
                ],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--enable-feature=exemplar-storage",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{prom_port}"
    try:
        # The first scrape comes ~5 s after start; wait for a few more so rate() has samples.
        deadline = time.monotonic() + 30
        query = urllib.parse.quote('count(http_server_request_duration_seconds_count{service="backend"})')
        samples = 0
        while time.monotonic() < deadline:
            try:
                result = _get_json(f"{url}/api/v1/query?query={query}")["data"]["result"]
                if result:
                    samples += 1
                    if samples >= 5:
                        break
            except OSError:
                pass
            time.sleep(1)
        else:
            pytest.fail(
                f"Prometheus never scraped the exporter: {proc.stderr.read1().decode() if proc.stderr else ''}"
            )  # type: ignore[union-attr]
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        stop.set()
        thread.join(timeout=5)


@pytest.mark.slow
def test_service_dashboard_preview_shows_real_data_and_exemplars(prometheus_url: str, tmp_path: Path) -> None:
    html_path, png_path = preview(
        edu, "obs-svc-backend", prometheus_url, tmp_path, env="dev", time_range="2m"
    )
    page = html_path.read_text()
    assert html_path.name == "obs-svc-backend.html"
    for title in (
        "Requests by route",
        "Errors by status",
        "Latency percentiles",
        "Latency heatmap",
        "Slowest routes",
        "SLO attainment",
    ):
        assert f">{title}" in page
    requests = page.split('id="panel-1"', 1)[1].split("</section>", 1)[0]
    assert "<polyline" in requests, "the request rate panel drew no line"
    for route in ("/api/courses", "/api/submissions"):
        assert route in requests
    assert 'class="error"' not in page, "a query failed against the real Prometheus"
    # Exemplars are links to the trace in Jaeger, with the trace ids the exporter wrote.
    exemplar_links = [part.split('"', 1)[0] for part in page.split(f'href="{edu.jaeger_url}/trace/')[1:]]
    assert exemplar_links and set(exemplar_links) <= set(TRACE_IDS)
    assert "<script" not in page and "http://" not in page.replace(prometheus_url, "").replace(
        "http://www.w3.org/2000/svg", ""
    )
    if shutil.which("chromium") is None:
        assert png_path is None
    else:
        assert png_path is not None and png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png_path.stat().st_size > 20_000


@pytest.mark.slow
def test_every_generated_dashboard_previews_without_a_query_error(
    prometheus_url: str, tmp_path: Path
) -> None:
    from obs.catalogue.dashboards import dashboards

    for dashboard in dashboards(edu, edu.environment("dev")):
        html_path, _ = preview(
            edu, dashboard.uid, prometheus_url, tmp_path, env="dev", time_range="2m", png=False
        )
        assert 'class="error"' not in html_path.read_text(), dashboard.uid


@pytest.mark.slow
def test_an_alert_link_to_one_slo_shows_only_that_slos_burn_rates(
    prometheus_url: str, tmp_path: Path
) -> None:
    html_path, _ = preview(
        edu,
        links.SLO_UID,
        prometheus_url,
        tmp_path,
        env="dev",
        time_range="2m",
        png=False,
        variables={"service": "backend", "slo": "latency"},
    )
    burn = (
        html_path.read_text()
        .split(f'id="panel-{int(links.SLOPanel.BURN_RATE_WINDOWS)}"', 1)[1]
        .split("</section>", 1)[0]
    )
    assert "backend latency 5m" in burn and "<polyline" in burn, "no burn rate recorded for backend latency"
    assert "availability" not in burn and "bridge" not in burn


@pytest.mark.slow
def test_slo_panels_show_the_recorded_values(prometheus_url: str, tmp_path: Path) -> None:
    html_path, _ = preview(
        edu, "obs-svc-backend", prometheus_url, tmp_path, env="dev", time_range="2m", png=False
    )
    page = html_path.read_text()
    for panel in (
        links.ServicePanel.SLO_STATUS,
        links.ServicePanel.ERROR_BUDGET,
        links.ServicePanel.BURN_RATE,
    ):
        shown = page.split(f'id="panel-{int(panel)}"', 1)[1].split("</section>", 1)[0]
        assert "No data" not in shown, f"panel {panel.name} shows no recorded value"


@pytest.mark.slow
def test_the_slo_alert_state_shows_when_an_alert_fired(prometheus_url: str, tmp_path: Path) -> None:
    html_path, _ = preview(
        edu, links.SLO_UID, prometheus_url, tmp_path, env="dev", time_range="2m", png=False
    )
    state = (
        html_path.read_text()
        .split(f'id="panel-{int(links.SLOPanel.ALERT_STATE)}"', 1)[1]
        .split("</section>", 1)[0]
    )
    assert f"<title>{BURN_ALERT} backend {PREVIEW_SLO} firing</title>" in state
    assert '<rect x="' in state and 'fill="#e02f44"' in state
