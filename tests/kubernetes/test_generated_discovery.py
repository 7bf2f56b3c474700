"""The plain-Prometheus path end to end: the scrape job obs writes finds every pod of an autoscaled
service, 3 then 10, each its own target with the labels rules and dashboards select on.

The job is taken from a real build's ``prometheus.yml`` (``platforms.shop`` with plain
Prometheus); the only changes are the ones running outside a cluster needs: the stand-in API
server's address (inside, Prometheus uses its service account) and a token file that exists here.
Debian's Prometheus lacks Kubernetes discovery, so its case skips (see ``test_discovery``); the
scraper of VictoriaMetrics runs it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.builder import build
from obs.renderers.prometheus import CONFIG_PATH
from obs.runtime import PrometheusAPI, Supervisor, wait_until
from tests.kubernetes.fake_apiserver import FakeKubernetes, FakePod
from tests.kubernetes.platforms import NAMESPACE, shop
from tests.kubernetes.test_discovery import PodServers, _start_scraper, pod_servers  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def api_job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("plain") / "build"
    build(shop("plain"), out)
    jobs = {job["job_name"]: job for job in yaml.safe_load((out / "prod" / CONFIG_PATH).read_text())["scrape_configs"]}
    return dict(jobs["api"])


def _outside_the_cluster(job: dict[str, Any], api_server: str, token_file: Path) -> dict[str, Any]:
    job = yaml.safe_load(yaml.safe_dump(job))
    for sd_config in job["kubernetes_sd_configs"]:
        sd_config["api_server"] = api_server
    job["authorization"]["credentials_file"] = str(token_file)
    return job


def _targets(api: PrometheusAPI, count: int) -> list[dict[str, str]]:
    def settled() -> list[dict[str, str]]:
        targets = [dict(t.labels) for t in api.targets() if t.job == "api" and t.up]
        return sorted(targets, key=lambda t: t["pod"]) if len(targets) == count else []

    return wait_until(settled, timeout=30, what=f"{count} api targets up")


def _expected(pods: list[FakePod]) -> list[dict[str, str]]:
    return [
        {"instance": f"{p.ip}:{p.port}", "job": "api", "namespace": NAMESPACE, "pod": p.name, "service": "api", "team": "core"}
        for p in sorted(pods, key=lambda p: p.name)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("scraper", ["prometheus", "victoria-metrics"])
def test_the_generated_job_scrapes_every_pod_as_the_autoscaler_adds_them(
    scraper: str, api_job: dict[str, Any], pod_servers: PodServers, tmp_path: Path  # noqa: F811 - the fixture
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    pods = [FakePod(f"api-5c4d-{i:02d}", pod_servers.ip(i), pod_servers.port) for i in range(10)]
    with FakeKubernetes() as cluster, Supervisor(tmp_path / "run") as sup:
        cluster.add_namespace(NAMESPACE)
        cluster.set_pods(NAMESPACE, "api", pods[:3])
        cluster.set_pods(NAMESPACE, "worker", [FakePod("worker-0", "127.0.0.9", pod_servers.port)])  # not the api
        config = tmp_path / "prometheus.yml"
        job = _outside_the_cluster(api_job, cluster.url, token)
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}))
        api = PrometheusAPI(_start_scraper(scraper, sup, config))
        started = time.monotonic()
        assert _targets(api, 3) == _expected(pods[:3])
        cluster.set_pods(NAMESPACE, "api", pods)  # the HorizontalPodAutoscaler scales out to its maximum
        assert _targets(api, 10) == _expected(pods)
        assert time.monotonic() - started < 60
        watched = [r for r in cluster.requests if r.startswith(f"/api/v1/namespaces/{NAMESPACE}/pods")]
        assert watched and all("labelSelector=app%3Dapi" in r for r in watched)
