"""The stand-in Kubernetes API behaves as the real one does for a discovery client.

Lists carry a resourceVersion; a watch from it streams ADDED/MODIFIED/DELETED as the test changes
the pods, and nothing before; ``resourceVersion=0`` starts with the current objects; a watch ends
after ``timeoutSeconds``; label selectors filter both.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.kubernetes.fake_apiserver import FakeKubernetes, FakePod

NS = "prod"


def pods(count: int, port: int = 8000) -> list[FakePod]:
    return [FakePod(f"backend-{i}", f"127.0.0.{10 + i}", port) for i in range(count)]


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    with FakeKubernetes() as api:
        api.set_pods(NS, "backend", pods(3))
        api.set_pods(NS, "worker", [FakePod("worker-0", "127.0.0.9", 9000)])
        yield api


def get(api: FakeKubernetes, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(urlsplit(api.url).netloc, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class Watch:
    """A streaming watch read one event (line) at a time, each read bounded by the socket timeout."""

    def __init__(self, api: FakeKubernetes, path: str) -> None:
        self._conn = http.client.HTTPConnection(urlsplit(api.url).netloc, timeout=5)
        self._conn.request("GET", path)
        self.response = self._conn.getresponse()

    def next(self) -> tuple[str, str] | None:
        line = self.response.readline()
        if not line:
            return None
        event = json.loads(line)
        return event["type"], event["object"]["metadata"]["name"]

    def close(self) -> None:
        self._conn.close()


@pytest.mark.parametrize(
    ("path", "field", "expected"),
    [
        ("/version", "gitVersion", "v1.37.0"),
        ("/api", "versions", ["v1"]),
        ("/apis", "groups", [{"name": "discovery.k8s.io", "versions": [{"groupVersion": "discovery.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}}]),
    ],
)
def test_discovery_answers(cluster: FakeKubernetes, path: str, field: str, expected: Any) -> None:
    status, body = get(cluster, path)
    assert (status, body[field]) == (200, expected)


def test_a_list_has_a_resource_version_and_honours_the_label_selector(cluster: FakeKubernetes) -> None:
    status, body = get(cluster, f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dbackend&limit=500&resourceVersion=0")
    assert status == 200
    assert body["kind"] == "PodList"
    assert int(body["metadata"]["resourceVersion"]) > 0
    assert [p["metadata"]["name"] for p in body["items"]] == ["backend-0", "backend-1", "backend-2"]
    assert body["items"][0]["status"]["podIP"] == "127.0.0.10"
    assert body["items"][0]["spec"]["containers"][0]["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (f"/api/v1/namespaces/{NS}/endpoints", ["backend", "worker"]),
        (f"/api/v1/namespaces/{NS}/services", ["backend", "worker"]),
        (f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices", ["backend-slice", "worker-slice"]),
        ("/api/v1/pods?labelSelector=app%3Dworker", ["worker-0"]),
        ("/api/v1/namespaces/other/pods", []),
    ],
)
def test_other_resources_are_listed(cluster: FakeKubernetes, path: str, names: list[str]) -> None:
    status, body = get(cluster, path)
    assert (status, [o["metadata"]["name"] for o in body["items"]]) == (200, names)


def test_endpoints_follow_the_pods(cluster: FakeKubernetes) -> None:
    _, body = get(cluster, f"/api/v1/namespaces/{NS}/endpoints")
    backend = body["items"][0]
    assert [a["ip"] for a in backend["subsets"][0]["addresses"]] == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert backend["subsets"][0]["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]


def test_an_unknown_path_is_not_found(cluster: FakeKubernetes) -> None:
    status, body = get(cluster, "/api/v1/namespaces/prod/secrets")
    assert (status, body["reason"]) == (404, "NotFound")


def test_a_watch_streams_what_changes_after_the_listed_version(cluster: FakeKubernetes) -> None:
    _, listed = get(cluster, f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dbackend")
    version = listed["metadata"]["resourceVersion"]
    watch = Watch(cluster, f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dbackend&resourceVersion={version}&watch=true&timeoutSeconds=30")
    try:
        assert watch.response.getheader("Transfer-Encoding") == "chunked"
        cluster.set_pods(NS, "backend", pods(5))
        assert [watch.next(), watch.next()] == [("ADDED", "backend-3"), ("ADDED", "backend-4")]
        cluster.set_pods(NS, "backend", pods(4, port=8001))  # one pod gone, the others changed
        events = [watch.next() for _ in range(5)]
        assert events == [("DELETED", "backend-4")] + [("MODIFIED", f"backend-{i}") for i in range(4)]
        cluster.set_pods(NS, "worker", [])  # another app: not this watch's business
        cluster.set_pods(NS, "backend", pods(3, port=8001))
        assert watch.next() == ("DELETED", "backend-3")
    finally:
        watch.close()


def test_a_watch_from_version_zero_starts_with_the_current_objects(cluster: FakeKubernetes) -> None:
    watch = Watch(cluster, f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion=0&timeoutSeconds=30")
    try:
        assert [watch.next() for _ in range(4)] == [("ADDED", n) for n in ("backend-0", "backend-1", "backend-2", "worker-0")]
    finally:
        watch.close()


def test_a_watch_ends_after_its_timeout(cluster: FakeKubernetes) -> None:
    started = time.monotonic()
    watch = Watch(cluster, f"/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion=999&timeoutSeconds=1")
    try:
        assert watch.next() is None
    finally:
        watch.close()
    assert 0.9 < time.monotonic() - started < 3


def test_stopping_ends_open_watches() -> None:
    api = FakeKubernetes().__enter__()
    watch = Watch(api, f"/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion=1&timeoutSeconds=60")
    started = time.monotonic()
    api.stop()
    try:
        assert watch.next() is None
    finally:
        watch.close()
    assert time.monotonic() - started < 3
