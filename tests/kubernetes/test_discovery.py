"""Plain Prometheus on Kubernetes: every pod of an autoscaled service becomes its own target.

A real scraper reads a hand-written ``kubernetes_sd_configs`` job (role ``pod`` + relabeling, the
job :func:`obs.kube.discovery.kubernetes_scrape_config` writes) and watches the stand-in API server
of ``fake_apiserver``; each fake pod's IP:port is a real prometheus_client server on 127.0.0.x.
The backend goes from 3 pods to 10 and back to 3, and the targets follow, each with its own
``instance``, ``pod`` and ``namespace`` and obs's ``service``/``team``.

Two scrapers: Prometheus, and the Prometheus-compatible scraper of VictoriaMetrics (Debian
``victoria-metrics``), an independent implementation of the same discovery and relabeling. Debian
12's ``prometheus`` 2.42.0+ds is built without Kubernetes discovery (it rejects the job with
"field kubernetes_sd_configs not found"), so its case skips unless ``OBS_PROMETHEUS`` names an
upstream build.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from obs import contract
from obs.kube.discovery import kubernetes_scrape_config
from obs.kube.objects import adapter_rate_rule
from obs.runtime import (
    PrometheusAPI,
    Supervisor,
    VictoriaMetricsAPI,
    start_prometheus,
    start_victoria_metrics,
    wait_until,
)
from obs.runtime.processes import ProcessError
from tests.kubernetes.fake_apiserver import FakeKubernetes, FakePod

NAMESPACE = "toolboxai-production"
API_SERVER = "http://127.0.0.1:API_PORT"

# What an operator would write by hand; kubernetes_scrape_config must write exactly this.
SCRAPE_CONFIG = """
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: backend
    metrics_path: /metrics
    scheme: http
    kubernetes_sd_configs:
      - role: pod
        api_server: http://127.0.0.1:API_PORT
        namespaces:
          names: [toolboxai-production]
        selectors:
          - role: pod
            label: app=backend
    relabel_configs:
      - {action: keep, source_labels: [__meta_kubernetes_pod_label_app], regex: backend}
      - {action: keep, source_labels: [__meta_kubernetes_pod_container_port_name], regex: http}
      - {action: drop, source_labels: [__meta_kubernetes_pod_phase], regex: (Failed|Succeeded)}
      - {action: replace, source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {action: replace, source_labels: [__meta_kubernetes_pod_name], target_label: pod}
      - {action: replace, target_label: service, replacement: backend}
      - {action: replace, target_label: team, replacement: learning}
"""


def test_the_discovery_function_writes_the_hand_written_job() -> None:
    job = kubernetes_scrape_config(
        "backend", namespace=NAMESPACE, selector={"app": "backend"}, port_name="http", service="backend", team="learning", api_server=API_SERVER
    )
    assert job == yaml.safe_load(SCRAPE_CONFIG)["scrape_configs"][0]


def test_a_selector_on_a_dotted_label_keeps_on_its_sanitized_meta_label() -> None:
    job = kubernetes_scrape_config(
        "web", namespace="prod", selector={"app.kubernetes.io/name": "web", "tier": "front"}, port_name="metrics", service="web", team="web"
    )
    assert job["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": ["prod"]}, "selectors": [{"role": "pod", "label": "app.kubernetes.io/name=web,tier=front"}]}
    ]
    assert job["relabel_configs"][:2] == [
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "regex": "web"},
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_label_tier"], "regex": "front"},
    ]


def test_an_empty_selector_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^scrape job api: selector is empty; give the labels that pick the service's pods \(e.g. app=api\)$"):
        kubernetes_scrape_config("api", namespace="prod", selector={}, port_name="http", service="api", team="core")


# --- the real scrapers ---------------------------------------------------------------------------


class PodServers:
    """One prometheus_client server per pod, on 127.0.0.<10+i> and one shared port, as pods are."""

    def __init__(self, count: int) -> None:
        self.port = _port_free_on(count)
        self._servers = []
        for i in range(count):
            registry = CollectorRegistry()
            histogram = Histogram(
                contract.HTTP_SERVER_DURATION.name, "requests", ["http_route"], registry=registry, buckets=contract.HTTP_SERVER_DURATION.buckets
            )
            histogram.labels("/courses").observe(0.01 * (i + 1))
            requests = Counter(contract.HTTP_SERVER_REQUESTS.name, "requests", ["http_route", "http_response_status_code"], registry=registry)
            requests.labels("/courses", "200").inc(i + 1)
            server, thread = start_http_server(self.port, addr=self.ip(i), registry=registry)
            self._servers.append((server, thread))

    @staticmethod
    def ip(i: int) -> str:
        return f"127.0.0.{10 + i}"

    def pods(self, count: int) -> list[FakePod]:
        return [FakePod(f"backend-7d9f8-{i:02d}", self.ip(i), self.port) for i in range(count)]

    def close(self) -> None:
        # shutdown() waits out each server's 0.5 s poll: stop them side by side.
        stoppers = [threading.Thread(target=server.shutdown) for server, _ in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper, (server, thread) in zip(stoppers, self._servers, strict=True):
            stopper.join(timeout=5)
            server.server_close()
            thread.join(timeout=5)


def _port_free_on(count: int) -> int:
    """A port that is free on 127.0.0.10 .. 127.0.0.<10+count-1> (bounded retries)."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((PodServers.ip(0), 0))
            port = int(probe.getsockname()[1])
        try:
            for i in range(count):
                with socket.socket() as s:
                    s.bind((PodServers.ip(i), port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on all pod addresses after 20 tries")


@pytest.fixture
def pod_servers() -> Iterator[PodServers]:
    servers = PodServers(10)
    yield servers
    servers.close()


def _start_scraper(scraper: str, sup: Supervisor, config: Path) -> str:
    if scraper == "victoria-metrics":
        # Discovery is checked every second (default 30 s); samples are searchable 1 s after ingestion.
        extra = [f"-promscrape.config={config}", "-promscrape.kubernetesSDCheckInterval=1s"]
        return start_victoria_metrics(sup, extra_args=extra).url
    try:
        return start_prometheus(sup, config).url
    except ProcessError as exc:
        if "kubernetes_sd_configs not found" in str(exc):
            pytest.skip("this prometheus is built without Kubernetes discovery (Debian 12's 2.42.0+ds is); set OBS_PROMETHEUS to an upstream build")
        raise


def _backend_targets(api: PrometheusAPI, count: int, timeout: float) -> list[dict[str, str]]:
    """The backend's targets once there are exactly ``count`` and all are up."""

    def settled() -> list[dict[str, str]]:
        targets = [t for t in api.targets() if t.job == "backend"]
        if len(targets) == count and all(t.up for t in targets):
            return [dict(t.labels) for t in targets]
        return []  # not yet

    return wait_until(settled, timeout=timeout, what=f"{count} backend targets up")


def _expected(pods: PodServers, count: int) -> list[dict[str, str]]:
    return sorted(
        (
            {
                "instance": f"{pods.ip(i)}:{pods.port}",
                "job": "backend",
                "namespace": NAMESPACE,
                "pod": f"backend-7d9f8-{i:02d}",
                "service": "backend",
                "team": "learning",
            }
            for i in range(count)
        ),
        key=lambda labels: labels["pod"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("scraper", ["prometheus", "victoria-metrics"])
def test_every_pod_of_an_autoscaled_backend_becomes_its_own_target(scraper: str, pod_servers: PodServers, tmp_path: Path) -> None:
    with FakeKubernetes() as cluster, Supervisor(tmp_path / "run") as sup:
        cluster.add_namespace(NAMESPACE)
        cluster.set_pods(NAMESPACE, "backend", pod_servers.pods(3))
        # A pod of another app on the same port must not be scraped as the backend.
        cluster.set_pods(NAMESPACE, "worker", [FakePod("worker-0", "127.0.0.9", pod_servers.port)])
        config = tmp_path / "prometheus.yml"
        config.write_text(SCRAPE_CONFIG.replace(API_SERVER, cluster.url))
        api = PrometheusAPI(_start_scraper(scraper, sup, config))
        started = time.monotonic()

        assert sorted(_backend_targets(api, 3, timeout=30), key=lambda t: t["pod"]) == _expected(pod_servers, 3)
        cluster.set_pods(NAMESPACE, "backend", pod_servers.pods(10))  # the HPA scales out
        assert sorted(_backend_targets(api, 10, timeout=30), key=lambda t: t["pod"]) == _expected(pod_servers, 10)
        cluster.set_pods(NAMESPACE, "backend", pod_servers.pods(3))  # and back in
        assert sorted(_backend_targets(api, 3, timeout=30), key=lambda t: t["pod"]) == _expected(pod_servers, 3)
        assert time.monotonic() - started < 60

        # The stand-in answered the calls a real API server gets: a list, then a watch from its version.
        pod_calls = [r for r in cluster.requests if r.startswith(f"/api/v1/namespaces/{NAMESPACE}/pods")]
        assert any("watch=" not in r for r in pod_calls) and any("watch=" in r and "resourceVersion=" in r for r in pod_calls)
        assert all("labelSelector=app%3Dbackend" in r for r in pod_calls)


@pytest.mark.slow
def test_the_adapter_rule_gives_one_request_rate_per_pod(pod_servers: PodServers, tmp_path: Path) -> None:
    """prometheus-adapter runs its metricsQuery with the HPA's pods as LabelMatchers, grouped by pod:
    on what the discovery job stored, that is one series per pod."""
    rule = adapter_rate_rule(contract.HTTP_SERVER_REQUESTS.name, "http_server_requests_per_second", window="1m")
    pods = pod_servers.pods(3)
    query = (
        rule["metricsQuery"]
        .replace("<<.Series>>", contract.HTTP_SERVER_REQUESTS.name)
        .replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod=~"{"|".join(p.name for p in pods)}"')
        .replace("<<.GroupBy>>", "pod")
    )
    with FakeKubernetes() as cluster, Supervisor(tmp_path / "run") as sup:
        cluster.set_pods(NAMESPACE, "backend", pods)
        config = tmp_path / "prometheus.yml"
        config.write_text(SCRAPE_CONFIG.replace(API_SERVER, cluster.url))
        url = _start_scraper("victoria-metrics", sup, config)
        _backend_targets(PrometheusAPI(url), 3, timeout=30)
        victoria = VictoriaMetricsAPI(url)

        def one_per_pod() -> list[str]:
            victoria.force_flush()  # new series are otherwise searchable after ~10 s
            found = sorted(s.labels.get("pod", "") for s in victoria.query(query))
            return found if len(found) == 3 else []

        assert wait_until(one_per_pod, timeout=30, what="one adapter series per pod") == [p.name for p in pods]
