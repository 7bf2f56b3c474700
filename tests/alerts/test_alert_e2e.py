"""End to end: a real instrumented service fails, real Prometheus evaluates the rendered rules and
real Alertmanager, with the rendered routing, delivers HighErrorRate to a webhook.

Only time is compressed: scrape and evaluation every second, ``for`` of 1s, and Alertmanager's
group_wait of 0s. The expression, labels, annotations, the Prometheus configuration and the
Alertmanager routes are the rendered ones.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from obs.artifacts import RenderContext
from obs.content import load_content
from obs.model import SLO, AvailabilitySLI, ComponentOverride, Environment, Platform, Service, Team
from obs.renderers import alertmanager, prometheus
from obs.ruleset import rule_files
from obs.writer import dump_yaml

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")),
        reason="prometheus/alertmanager not installed",
    ),
]

DEADLINE_S = 30.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _platform(service_port: int, am_port: int) -> Platform:
    return Platform(
        name="e2e",
        grafana_url="https://grafana.example.org",
        alertmanager_url=f"http://127.0.0.1:{am_port}",
        infra_team="core",
        teams=(Team("core"),),
        services=(
            Service(
                name="shop",
                kind="flask",  # type: ignore[arg-type]
                team="core",
                port=service_port,
                runbook_base_url="https://runbooks.example.org/shop",
                slos=(SLO("availability", AvailabilitySLI(), 0.999),),
            ),
        ),
        environments=(
            Environment(
                "e2e", scrape_interval="1s", paging=False,
                overrides={"shop": ComponentOverride(targets=(f"127.0.0.1:{service_port}",))},
            ),
        ),
    )  # fmt: skip


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(server: Any) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def _service(port: int) -> Any:
    """A Flask app with the team's instrumentation if it is importable, else the contract's
    histogram emitted with prometheus_client; served on 127.0.0.1:port."""
    from flask import Flask
    from prometheus_client import CollectorRegistry
    from werkzeug.serving import make_server

    app = Flask("e2e-shop")

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    @app.get("/fail")
    def fail() -> tuple[str, int]:
        return "down", 503

    registry = CollectorRegistry()
    try:
        import instrumentation

        instrumentation.instrument(
            app,
            service_name="shop",
            registry=registry,
            traces=False,
            json_logs=False,
            access_log=False,
            metrics_port=None,
        )
    except ImportError:  # pragma: no cover - the instrumentation is part of this repository
        from prometheus_client import Counter, Histogram, make_wsgi_app
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        from obs import contract

        metric = contract.HTTP_SERVER_DURATION
        hist = Histogram(metric.name, metric.help, metric.labels, buckets=metric.buckets, registry=registry)
        counted = contract.HTTP_SERVER_REQUESTS
        requests = Counter(counted.prometheus_client_name, counted.help, counted.labels, registry=registry)

        @app.after_request
        def observe(response: Any) -> Any:
            from flask import request

            route = request.url_rule.rule if request.url_rule else "__unmatched__"
            hist.labels("GET", route).observe(0.01)
            requests.labels("GET", route, str(response.status_code)).inc()
            return response

        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app(registry)})  # type: ignore[method-assign]
    return make_server("127.0.0.1", port, app, threaded=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        if _get(url) == 200:
            return
        time.sleep(0.05)
    pytest.fail(f"{url} not ready within 10 s")


def test_high_error_rate_reaches_the_webhook_with_the_rendered_labels(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    service_port, prom_port, am_port, hook_port = (_free_port() for _ in range(4))
    platform = _platform(service_port, am_port)
    env = platform.environments[0]

    # The rendered Prometheus configuration and HighErrorRate as rendered, time compressed.
    prom_dir = tmp_path / "prometheus"
    (prom_dir / "rules").mkdir(parents=True)
    (prom_dir / "prometheus.yml").write_text(dump_yaml(prometheus.config(platform, env)))
    # HighErrorRate is the built-in platform's own alert, in alerts/ of this repository.
    platform = dataclasses.replace(platform, alerts=("alerts",))
    content = load_content(platform, env, Path(__file__).parents[2])
    custom = next(f for f in rule_files(RenderContext(platform, env, content)) if f.name == "custom")
    groups = [
        {**g, "interval": "1s", "rules": [{**r, "for": "1s"} for r in g["rules"]]} for g in custom.groups
    ]
    (prom_dir / "rules" / "custom.yml").write_text(dump_yaml({"groups": groups}))

    am_config = alertmanager.config(
        dataclasses.replace(platform, alert_webhook_url=f"http://127.0.0.1:{hook_port}/"), env
    )
    am_config["route"].update(group_wait="0s", group_interval="1s")
    (tmp_path / "alertmanager.yml").write_text(dump_yaml(am_config))

    _Hook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", hook_port), _Hook)
    service = _service(service_port)
    _serve(hook)
    _serve(service)
    try:
        processes.append(subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        processes.append(subprocess.Popen(
            ["prometheus", f"--config.file={prom_dir / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'prom'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        _wait_ready(f"http://127.0.0.1:{am_port}/-/ready", processes[0])
        _wait_ready(f"http://127.0.0.1:{prom_port}/-/ready", processes[1])

        started = time.monotonic()
        alert: dict[str, Any] | None = None
        for _ in range(2000):  # bounded in count and in time
            if time.monotonic() - started > DEADLINE_S:
                break
            # Half the requests fail: far above the 5% threshold, and well above 0.1 requests/s.
            assert _get(f"http://127.0.0.1:{service_port}/ok") == 200
            assert _get(f"http://127.0.0.1:{service_port}/fail") == 503
            alerts = [
                a
                for body in list(_Hook.received)
                for a in body["alerts"]
                if a["labels"].get("alertname") == "HighErrorRate"
            ]
            if alerts:
                alert = alerts[0]
                break
            time.sleep(0.05)
        assert alert is not None, (
            f"no HighErrorRate at the webhook within {DEADLINE_S:g} s; received {_Hook.received}"
        )
    finally:
        hook.shutdown()
        service.shutdown()

    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "HighErrorRate",
        "environment": "e2e",
        "service": "shop",
        "team": "core",
        "severity": "ticket",
    }
    assert alert["annotations"]["summary"].startswith("shop answers ")
    assert alert["annotations"]["summary"].endswith("% of requests with a server error")
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.org/shop/higherrorrate.html"
    assert (
        alert["annotations"]["dashboard_url"]
        == "https://grafana.example.org/d/obs-svc-shop?viewPanel=2&var-service=shop"
    )
    assert yaml.safe_load((tmp_path / "alertmanager.yml").read_text())["route"]["routes"][0] == {
        "receiver": "alert-log",
        "continue": True,
    }


def _post(url: str, payload: Any) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def _alert(name: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "environment": "prod", **labels}, "annotations": {"summary": name}}


def test_the_rendered_inhibitions_silence_what_amtool_cannot_test(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """amtool tests routes, not inhibitions: the real Alertmanager, with the rendered prod
    configuration of the built-in platform, decides which alerts it suppresses."""
    from edu_platform import platform

    am_port, hook_port = _free_port(), _free_port()
    env = platform.environment("prod")
    config = alertmanager.config(
        dataclasses.replace(platform, alert_webhook_url=f"http://127.0.0.1:{hook_port}/"), env
    )
    config["route"].update(group_wait="0s", group_interval="1s")
    (tmp_path / "alertmanager.yml").write_text(dump_yaml(config))
    _Hook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", hook_port), _Hook)
    _serve(hook)
    try:
        processes.append(subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        _wait_ready(f"http://127.0.0.1:{am_port}/-/ready", processes[0])
        api = f"http://127.0.0.1:{am_port}/api/v2/alerts"
        # Sources first, so they are known when the targets arrive.
        _post(api, [
            _alert("PostgresDown", service="postgres", team="platform", severity="page"),
            _alert("ErrorBudgetBurn", service="backend", team="learning", severity="page", slo="availability"),
        ])  # fmt: skip
        time.sleep(0.5)
        _post(api, [
            _alert("HighErrorRate", service="backend", team="learning", severity="ticket"),  # backend uses postgres
            _alert("HighErrorRate", service="bridge", team="integrations", severity="ticket"),  # through backend
            _alert("HighErrorRate", service="cms", team="web", severity="ticket"),  # the CMS does not
            _alert("ErrorBudgetBurn", service="backend", team="learning", severity="ticket", slo="availability"),
            _alert("ErrorBudgetBurn", service="backend", team="learning", severity="ticket", slo="latency"),  # another SLO
        ])  # fmt: skip

        def delivered() -> set[tuple[str, str, str]]:
            return {
                (
                    a["labels"]["alertname"],
                    a["labels"]["service"],
                    f"{a['labels']['severity']}:{a['labels'].get('slo', '')}",
                )
                for body in list(_Hook.received)
                for a in body["alerts"]
            }

        # PostgreSQL is down: the backend's budget burn is PostgreSQL's doing too, so its pages and
        # tickets wait with its other symptoms; the CMS, which needs nothing of the platform, is told.
        expected = {
            ("PostgresDown", "postgres", "page:"),
            ("HighErrorRate", "cms", "ticket:"),
        }
        started = time.monotonic()
        for _ in range(200):
            if expected <= delivered() or time.monotonic() - started > 10:
                break
            time.sleep(0.05)
        time.sleep(1.5)  # two more group intervals for anything that should not come
        with urllib.request.urlopen(api, timeout=5) as response:
            states = {
                (
                    a["labels"]["alertname"],
                    a["labels"]["service"],
                    a["labels"]["severity"],
                    a["labels"].get("slo", ""),
                ): a["status"]
                for a in json.loads(response.read())
            }
    finally:
        hook.shutdown()

    assert delivered() == expected
    suppressed = {
        k for k, status in states.items() if status["state"] == "suppressed" and status["inhibitedBy"]
    }
    assert suppressed == {
        ("HighErrorRate", "backend", "ticket", ""),
        ("HighErrorRate", "bridge", "ticket", ""),
        ("ErrorBudgetBurn", "backend", "page", "availability"),
        ("ErrorBudgetBurn", "backend", "ticket", "availability"),
        ("ErrorBudgetBurn", "backend", "ticket", "latency"),
    }
