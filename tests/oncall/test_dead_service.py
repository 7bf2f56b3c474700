"""A service that stops answering pages its owner; the services that depend on it do not page
their teams for the symptoms, not even once it is back and their windows still hold the outage.

Real Prometheus and Alertmanager (``obs.runtime``) with the rendered configuration, rules and
routes; only time is compressed (scrapes and evaluations every second, ``for`` and windows in
seconds, in the same order as rendered) and every receiver is a webhook to a local sink.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from obs.artifacts import RenderContext
from obs.content import load_content
from obs.model import SLO, AvailabilitySLI, ComponentOverride, Environment, Platform, Service, Team
from obs.renderers import alertmanager, prometheus
from obs.ruleset import rule_files
from obs.runtime import (
    PrometheusAPI,
    Supervisor,
    WebhookSink,
    available,
    free_port,
    start_alertmanager,
    start_prometheus,
    wait_until,
)
from obs.writer import dump_yaml
from tests.oncall.sinks import to_sink

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (available("prometheus") and available("prometheus-alertmanager")), reason="Prometheus/Alertmanager not installed"),
]
REPO = Path(__file__).parents[2]
COUNT = "http_server_requests_total"

#: Rendered duration → test duration: the order of what fires first is the rendered one.
COMPRESS = {"1m": "2s", "5m": "6s", "10m": "8s", "30m": "20s", "35m": "20s"}


class Exposition(BaseHTTPRequestHandler):
    """``/metrics`` of a fake service: its requests so far, failing ones while ``failing``."""

    state: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        s = type(self).state[self.server.server_address[1]]
        now = time.monotonic()
        s["ok"] += (now - s["t"]) * 20 * (0 if s["failing"] else 1)
        s["bad"] += (now - s["t"]) * 20 * (1 if s["failing"] else 0)
        s["t"] = now
        body = (
            'target_info{service_name="x"} 1\n'
            f'{COUNT}{{http_request_method="GET",http_route="/r",http_response_status_code="200"}} {s["ok"]}\n'
            f'{COUNT}{{http_request_method="GET",http_route="/r",http_response_status_code="503"}} {s["bad"]}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class FakeService:
    def __init__(self, port: int) -> None:
        self.port = port
        Exposition.state[port] = {"ok": 0.0, "bad": 0.0, "t": time.monotonic(), "failing": False}
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Exposition)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def failing(self, value: bool) -> None:
        Exposition.state[self.port]["failing"] = value


def _platform(backend: int, bridge: int, am: int) -> Platform:
    def service(name: str, team: str, tier: int, port: int, **fields: Any) -> Service:
        return Service(name, "fastapi", team, tier=tier, port=port, slos=(SLO("availability", AvailabilitySLI(), 0.999),), **fields)  # type: ignore[arg-type]

    return Platform(
        name="dead",
        grafana_url="https://grafana.example.org",
        alertmanager_url=f"http://127.0.0.1:{am}",
        runbook_base_url="https://runbooks.example.org",
        infra_team="learning",
        alerts=("alerts",),
        teams=(Team("learning", chat_channel="#learning", pager_key_file="/run/secrets/learning"), Team("integrations", chat_channel="#integrations", pager_key_file="/run/secrets/integrations")),
        services=(service("backend", "learning", 1, backend), service("bridge", "integrations", 2, bridge, depends_on=("backend",))),
        environments=(
            Environment(
                "e2e", scrape_interval="1s",
                overrides={"backend": ComponentOverride(targets=(f"127.0.0.1:{backend}",)), "bridge": ComponentOverride(targets=(f"127.0.0.1:{bridge}",))},
            ),
        ),
    )  # fmt: skip


def _compressed(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            rule = dict(rule)
            if "for" in rule:
                rule["for"] = COMPRESS.get(rule["for"], "1s")
            rule["expr"] = re.sub(r"\[(\d+[mh])\]", lambda m: f"[{COMPRESS.get(m.group(1), '10s')}]", rule["expr"])
            rules.append(rule)
        out.append({**group, "interval": "1s", "rules": rules})
    return out


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[FakeService, FakeService, PrometheusAPI, WebhookSink]]:
    ports = [free_port() for _ in range(4)]
    platform = _platform(ports[0], ports[1], ports[2])
    env = platform.environments[0]
    content = load_content(platform, env, REPO)
    files = {f.name: f for f in rule_files(RenderContext(platform.in_environment(env), env, content))}
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("services", "custom"):
        (rules_dir / f"{name}.yml").write_text(dump_yaml({"groups": _compressed(files[name].groups)}))
    config = prometheus.config(platform.in_environment(env), env)
    config["rule_files"] = [str(rules_dir / "*.yml")]
    (tmp_path / "prometheus.yml").write_text(dump_yaml(config))
    sink = WebhookSink()
    am_config = to_sink(alertmanager.config(platform.in_environment(env), env), sink)
    (tmp_path / "alertmanager.yml").write_text(dump_yaml(am_config))
    backend, bridge = FakeService(ports[0]), FakeService(ports[1])
    try:
        with Supervisor(tmp_path / "run") as sup:
            start_alertmanager(sup, tmp_path / "alertmanager.yml", port=ports[2], log_level="warn")
            prom = start_prometheus(sup, tmp_path / "prometheus.yml", port=ports[3], log_level="warn")
            yield backend, bridge, PrometheusAPI(prom.url), sink
    finally:
        backend.stop()
        bridge.stop()
        sink.close()


def _names(sink: WebhookSink, receiver: str) -> list[tuple[str, str]]:
    return [(a["labels"]["alertname"], a["status"]) for n in sink.received(receiver=receiver) for a in n.alerts]


def test_a_dead_service_pages_its_owner_and_its_dependants_symptoms_never_reach_their_team(
    stack: tuple[FakeService, FakeService, PrometheusAPI, WebhookSink],
) -> None:
    backend, bridge, prom, sink = stack
    wait_until(lambda: prom.value('count(up{job=~"backend|bridge"} == 1)') == 2, timeout=30, what="both services scraped")
    # The backend stops; the bridge, which calls it, answers 503.
    backend.stop()
    bridge.failing(True)
    sink.wait_for(lambda ns: ("ServiceDown", "firing") in _names(sink, "learning-pager"), timeout=30)
    wait_until(lambda: any(a.name == "HighErrorRate" and a.state == "firing" for a in prom.alerts()), timeout=30, what="the bridge's HighErrorRate firing")
    time.sleep(3)
    assert [n for n in _names(sink, "integrations-chat") + _names(sink, "integrations-pager") if n[0] != "ServiceDown"] == []
    # The backend is back; the bridge's window still holds the outage for a while.
    backend.start()
    bridge.failing(False)
    sink.wait_for(lambda ns: ("ServiceDown", "resolved") in _names(sink, "learning-pager"), timeout=30)
    wait_until(lambda: not any(a.name in ("HighErrorRate", "RecentOutage") for a in prom.alerts()), timeout=60, what="the symptom and the hold resolved")
    time.sleep(3)
    assert _names(sink, "integrations-chat") == [] and _names(sink, "integrations-pager") == []
    # The hold and the symptom reached the audit trail (here: the log route of the one Alertmanager).
    logged = {name for name, _ in _names(sink, "alert-log")}
    assert {"ServiceDown", "RecentOutage"} <= logged


def test_the_owners_severity_follows_the_tier() -> None:
    from obs.catalogue.alerts.services import service_down_alert

    platform = _platform(1, 2, 3)
    env = platform.environments[0]
    assert service_down_alert(platform, env, platform.service("backend")).severity.value == "page"  # type: ignore[union-attr]
    tier3 = dataclasses.replace(platform, services=(dataclasses.replace(platform.service("backend"), tier=3), platform.service("bridge")))
    assert service_down_alert(tier3, env, tier3.service("backend")).severity.value == "ticket"  # type: ignore[union-attr]
