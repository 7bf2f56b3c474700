"""Live: an HA pair (two Prometheus, one generated file, different replica labels) pages once.

Both servers run the generated prometheus.yml, each with its own ``$OBS_PROMETHEUS_REPLICA``; both
evaluate the local rules and send the same alert. The generated ``alert_relabel_configs`` drop
the replica label, so Alertmanager holds one alert and the webhook gets one notification. The
control pair runs the same file without that relabeling against a second Alertmanager, which then
holds two alerts: the test can tell one from two. Both pairs' samples reach VictoriaMetrics
without the replica label, where ``-dedup.minScrapeInterval`` keeps one sample per interval.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.model import MetricsStore
from obs.renderers import alertmanager
from obs.runtime import (
    AlertmanagerAPI,
    PrometheusAPI,
    Supervisor,
    VictoriaMetricsAPI,
    WebhookSink,
    available,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
    start_victoria_metrics,
    wait_until,
)
from obs.scaleout import REPLICA_ENV_VAR
from obs.writer import dump_yaml
from tests.scaleout.live import Service, build_env, time_compressed
from tests.scaleout.platforms import live

SERVERS = ("prometheus", "prometheus-alertmanager", "victoria-metrics", "prometheus-node-exporter")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all(available(s) for s in SERVERS), reason=f"needs {', '.join(SERVERS)} (Debian packages)"),
]

DEADLINE_S = 60.0
#: How long the notifications are watched after both replicas fire (many group intervals of 1s).
SETTLE_S = 4.0


def _prometheus_dir(env_dir: Path, into: Path, edit: Any = None) -> Path:
    """A copy of the generated Prometheus folder with its local rules' ``for`` at 1s; ``edit``
    changes the configuration (the control pair)."""
    folder = into / "prometheus"
    shutil.copytree(env_dir / "prometheus", folder)
    config = yaml.safe_load((folder / "prometheus.yml").read_text())
    time_compressed([folder / f for f in config["rule_files"]], folder / "rules")
    if edit is not None:
        edit(config)
        (folder / "prometheus.yml").write_text(dump_yaml(config))
    return folder / "prometheus.yml"


def _fires_target_down(api: PrometheusAPI) -> bool:
    return any(a.labels.get("alertname") == "TargetDown" and a.state == "firing" for a in api.alerts())


def _target_down(api: AlertmanagerAPI) -> list[Any]:
    return api.alerts(matchers=['alertname="TargetDown"', 'job="shop"'])


def test_an_ha_pair_pages_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Supervisor(tmp_path / "run") as sup, WebhookSink() as sink:
        vm = start_victoria_metrics(sup, extra_args=["-dedup.minScrapeInterval=1s"])
        node = start_node_exporter(sup)
        service_port, dead_port, am_port, control_am_port = (sup.free_port() for _ in range(4))
        store = MetricsStore(kind="victoriametrics", write_url=f"{vm.url}/api/v1/write", query_url=vm.url)
        platform = live(
            service_port=service_port, prometheus_port=sup.free_port(), alertmanager_port=am_port, node_port=node.port,
            store=store, replicas=2, dead_port=dead_port, labels={"note": "costs $5"},
        )  # fmt: skip
        env_dir = build_env(platform, tmp_path / "build")
        paired = _prometheus_dir(env_dir, tmp_path / "paired")

        def control(config: dict[str, Any]) -> None:
            del config["alerting"]["alert_relabel_configs"]
            config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{control_am_port}"]
            del config["remote_write"]

        unpaired = _prometheus_dir(env_dir, tmp_path / "control", control)
        for name, port, receiver in (("alertmanager", am_port, "pair"), ("alertmanager-control", control_am_port, "control")):
            routing = alertmanager.config(dataclasses.replace(platform, alert_webhook_url=sink.url_for(receiver)), platform.environments[0])
            routing["route"].update(group_wait="0s", group_interval="1s")
            (tmp_path / f"{name}.yml").write_text(dump_yaml(routing))
            start_alertmanager(sup, tmp_path / f"{name}.yml", name=name, port=port)
        service = Service("shop", service_port)
        try:
            servers: list[PrometheusAPI] = []
            for name, config in (("pair", paired), ("control", unpaired)):
                for replica in ("a", "b"):
                    monkeypatch.setenv(REPLICA_ENV_VAR, replica)  # what each server's deployment sets
                    server = start_prometheus(sup, config, name=f"prometheus-{name}-{replica}", extra_args=["--enable-feature=expand-external-labels"])
                    servers.append(PrometheusAPI(server.url))
            # Every server evaluates the local TargetDown and sends it.
            for api in servers:
                wait_until(partial(_fires_target_down, api), timeout=DEADLINE_S, what=f"TargetDown firing in {api.base_url}")
            sink.wait_for(lambda ns: {n.receiver for n in ns if "TargetDown" in n.alertnames} == {"pair", "control"}, timeout=DEADLINE_S)
            time.sleep(SETTLE_S)

            pair_alerts = _target_down(AlertmanagerAPI(f"http://127.0.0.1:{am_port}"))
            control_alerts = _target_down(AlertmanagerAPI(f"http://127.0.0.1:{control_am_port}"))
            assert len(pair_alerts) == 1, [a.labels for a in pair_alerts]
            assert pair_alerts[0].labels["instance"] == f"127.0.0.1:{dead_port}"
            assert "prometheus_replica" not in pair_alerts[0].labels
            assert sorted(a.labels["prometheus_replica"] for a in control_alerts) == ["a", "b"]  # without the relabeling: two
            notified = [
                [a for a in n.alerts if a["labels"].get("job") == "shop"]
                for n in sink.received(receiver="pair", alertname="TargetDown")
            ]
            assert [len(shop) for shop in notified if shop] == [1], notified  # one notification, one alert

            # The pair's samples reach the store as one series per target, deduplicated.
            vm_api = VictoriaMetricsAPI(vm.url)

            def ups() -> list[dict[str, str]]:
                vm_api.force_flush()
                return [dict(s.labels) for s in vm_api.query('up{job="shop"}')]

            wait_until(lambda: len(ups()) == 2, timeout=DEADLINE_S, what="both shop targets in VictoriaMetrics")
            series = ups()
            assert {s["instance"] for s in series} == {f"127.0.0.1:{service_port}", f"127.0.0.1:{dead_port}"}
            for labels in series:
                assert "prometheus_replica" not in labels
                assert labels["note"] == "costs $5"  # a literal $ survives the replica label's expansion
            time.sleep(14)
            vm_api.force_flush()
            # 10 s that ended 3 s ago (every sample of them has arrived): one sample a second, not two.
            (samples,) = vm_api.query(f'count_over_time(up{{job="shop", instance="127.0.0.1:{service_port}"}}[10s] offset 3s)')
            assert samples.value <= 11, f"{samples.value} samples in 10 s from a pair scraping every second: not deduplicated"
        finally:
            service.close()
