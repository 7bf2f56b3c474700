"""Metrics: the contract's names and labels, route templates only, exemplars in OpenMetrics,
``/metrics`` served by the app (optionally behind a bearer token, or on its own port), promtool-clean."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporters.prometheus import BearerToken, authorized
from instrumentation import instrument, uninstrument
from instrumentation._metrics import DurationChild, HttpMetrics
from instrumentation._wsgi import record_route
from obs.contract import (
    HTTP_DURATION_BUCKETS,
    HTTP_SERVER_ACTIVE,
    HTTP_SERVER_DURATION,
    HTTP_SERVER_REQUESTS,
    INSTRUMENTATION_ERRORS,
    METHOD_LABEL,
    OBS_METRICS,
    OTHER_METHOD,
    ROUTE_LABEL,
    STATUS_LABEL,
    TARGET_INFO,
    UNMATCHED_ROUTE,
    format_bucket,
)
from tests.instrumentation.conftest import Service, ServiceFactory, WsgiClient, promtool_check

COUNT = HTTP_SERVER_DURATION.name + "_count"
REQUESTS = HTTP_SERVER_REQUESTS.name
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def labels(method: str, route: str, status: int) -> dict[str, str]:
    return {METHOD_LABEL: method, ROUTE_LABEL: route, STATUS_LABEL: str(status)}


def test_the_duration_histogram_has_the_contract_name_labels_and_buckets(service: Service) -> None:
    service.get("/items/1")
    service.get("/items/2")
    service.get("/boom")
    assert service.sample(COUNT, {METHOD_LABEL: "GET", ROUTE_LABEL: service.item_template}) == 2
    family = next(m for m in service.registry.collect() if m.name == HTTP_SERVER_DURATION.name)
    bucket_bounds = {s.labels["le"] for s in family.samples if s.name.endswith("_bucket")}
    assert bucket_bounds == {format_bucket(b) for b in (*HTTP_DURATION_BUCKETS, float("inf"))}
    sample_labels = {k for s in family.samples for k in s.labels} - {"le"}
    assert sample_labels == set(HTTP_SERVER_DURATION.labels) == {METHOD_LABEL, ROUTE_LABEL}


def test_the_request_counter_has_the_status_and_the_histogram_counts_every_status(service: Service) -> None:
    assert service.get("/items/1").status == 200
    assert service.get("/items/2").status == 200
    assert service.get("/boom").status == 500
    assert service.sample(REQUESTS, labels("GET", service.item_template, 200)) == 2
    family = next(m for m in service.registry.collect() if m.name == HTTP_SERVER_REQUESTS.prometheus_client_name)
    assert {k for s in family.samples for k in s.labels} == set(HTTP_SERVER_REQUESTS.labels)
    by_route: dict[str, float] = {}
    for s in family.samples:
        if s.name == REQUESTS:
            by_route[s.labels[ROUTE_LABEL]] = by_route.get(s.labels[ROUTE_LABEL], 0) + s.value
    for route, total in by_route.items():
        assert service.sample(COUNT, {METHOD_LABEL: "GET", ROUTE_LABEL: route}) == total, route


@pytest.mark.parametrize("accept", ["text/plain", OPENMETRICS])
def test_the_exposition_has_no_created_series_for_obs_families(service: Service, accept: str) -> None:
    """Prometheus stores each ``_created`` as a series of its own; obs's exposition leaves them out,
    and only for its own families (an application's metric on the same registry keeps its own)."""
    mine = Counter("app_jobs", "An application's own counter.", registry=service.registry)
    mine.inc()
    service.get("/items/1")
    body = service.get("/metrics", {"Accept": accept}).text
    created = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if "_created" in line.split(" ")[0]}
    assert created == {"app_jobs_created"}
    for metric in OBS_METRICS:
        assert not any(n.endswith("_created") for n in metric.series_names), metric.name
    assert REQUESTS + "{" in body and COUNT + "{" in body


def test_unmatched_requests_share_one_route_value(service: Service) -> None:
    for n in range(5):
        assert service.get(f"/wp-admin/{n}.php").status == 404
    assert service.sample(REQUESTS, labels("GET", UNMATCHED_ROUTE, 404)) == 5
    assert "/wp-admin" not in service.exposition()


@pytest.mark.parametrize(("method", "label"), [("get", "GET"), ("PATCH", "PATCH"), ("BREW", OTHER_METHOD)])
def test_methods_are_normalized(service: Service, method: str, label: str) -> None:
    service.client.request(method, "/items/1")
    for family, count in ((HTTP_SERVER_DURATION.name, COUNT), (HTTP_SERVER_REQUESTS.prometheus_client_name, REQUESTS)):
        matching = [
            s for m in service.registry.collect() if m.name == family
            for s in m.samples if s.name == count and s.labels[METHOD_LABEL] == label
        ]  # fmt: skip
        assert sum(s.value for s in matching) == 1, family


def test_the_in_flight_gauge_counts_the_running_request_and_returns_to_zero(service: Service) -> None:
    resp = service.get("/inflight")
    assert '"inflight":1.0' in resp.text.replace(" ", "")
    assert service.sample(HTTP_SERVER_ACTIVE.name, {METHOD_LABEL: "GET"}) == 0


def test_target_info_carries_the_service_identity(service: Service) -> None:
    ti = {"service_name": "backend", "service_version": "1.4.2", "deployment_environment": "test"}
    assert set(ti) == set(TARGET_INFO.labels)
    assert service.sample(TARGET_INFO.name, ti) == 1


def test_the_app_serves_metrics_and_leaves_the_scrape_out_of_its_own_metrics(service: Service) -> None:
    service.get("/items/1")
    resp = service.get("/metrics")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert HTTP_SERVER_DURATION.name + "_bucket" in resp.text
    assert "/metrics" not in resp.text
    assert service.spans() and all("/metrics" not in s.name for s in service.spans())


def test_exemplars_carry_the_trace_id_in_the_openmetrics_exposition(service: Service) -> None:
    service.get("/items/1")
    span = service.spans()[0]
    resp = service.get("/metrics", {"Accept": OPENMETRICS})
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    exemplars = [
        s.exemplar for f in text_string_to_metric_families(resp.text) if f.name == HTTP_SERVER_DURATION.name
        for s in f.samples if s.exemplar is not None
    ]  # fmt: skip
    assert [e.labels["trace_id"] for e in exemplars] == [format(span.context.trace_id, "032x")]
    assert "# {" not in service.get("/metrics").text, "the classic text format has no exemplars"


def test_the_exposition_passes_promtool_check_metrics(service: Service) -> None:
    for target in ("/items/1", "/nope", "/boom", "/api/users/x"):
        service.get(target)
    result = promtool_check(service.get("/metrics").text)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@pytest.mark.parametrize("source", ["value", "file"])
def test_a_bearer_token_protects_the_metrics_endpoint(
    make_service: ServiceFactory, framework: str, tmp_path: Path, source: str
) -> None:
    kwargs: dict[str, str] = {}
    if source == "file":
        path = tmp_path / "token"
        path.write_text("s3cret-token\n")
        kwargs["metrics_token_file"] = str(path)
    else:
        kwargs["metrics_token"] = "s3cret-token"
    service = make_service(framework, **kwargs)
    assert service.get("/metrics").status == 401
    assert service.get("/metrics", {"Authorization": "Bearer wrong"}).status == 401
    assert service.get("/metrics", {"Authorization": "Basic s3cret-token"}).status == 401
    assert service.get("/metrics", {"Authorization": "Bearer s3cret-token"}).status == 200


def test_the_token_can_come_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPE_TOKEN", "t0k")
    token = BearerToken(env="SCRAPE_TOKEN")
    assert authorized("Bearer t0k", token)
    assert not authorized("Bearer t0", token)
    monkeypatch.setenv("SCRAPE_TOKEN", "")
    assert not authorized("Bearer ", token), "an empty token must not open the endpoint"


def test_metrics_on_a_separate_port_are_not_served_by_the_app(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework, metrics_port=0, metrics_addr="127.0.0.1", metrics_token="tk")
    service.get("/items/1")
    assert service.get("/metrics").status == 404
    port = service.state.metrics_server.port
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer tk"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        body = resp.read().decode()
    assert HTTP_SERVER_DURATION.name + "_count" in body
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert err.value.code == 401
    err.value.close()


def test_metrics_can_be_switched_off(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework, metrics=False)
    service.get("/items/1")
    assert service.sample(REQUESTS, labels("GET", service.item_template, 200)) is None
    assert service.get("/metrics").status == 404


def test_the_error_counter_exists_from_the_start(service: Service) -> None:
    assert service.sample(INSTRUMENTATION_ERRORS.name, {"stage": "request"}) == 0


def test_the_gunicorn_child_exit_hook_drops_a_dead_workers_live_gauges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from exporters.prometheus import child_exit

    live = tmp_path / "gauge_livesum_4242.db"
    kept = tmp_path / "histogram_4242.db"
    other = tmp_path / "gauge_livesum_4343.db"
    for f in (live, kept, other):
        f.write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    child_exit(SimpleNamespace(), SimpleNamespace(pid=4242))
    assert not live.exists(), "the dead worker's in-flight count must leave the sum"
    assert kept.exists() and other.exists(), "its counts stay; other workers are untouched"


# --- Flask: where the route template is read -------------------------------------------------------


class _StartsLate:
    """A WSGI layer that buffers the body and starts the response after the app returned,
    i.e. after Flask popped its request context (as some compression or caching layers do)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        captured: list[Any] = []
        body = b"".join(self.app(environ, lambda *args: captured.append(args)))
        start_response(*captured[0])
        return [body]


def _flask_service(wrap: bool, propagate: bool) -> tuple[Any, WsgiClient, CollectorRegistry]:
    from flask import Flask, abort

    app = Flask("route-capture")
    app.config["PROPAGATE_EXCEPTIONS"] = propagate

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom/<name>")
    def boom(name: str) -> None:
        raise RuntimeError(name)

    @app.get("/denied/<name>")
    def denied(name: str) -> None:
        abort(403)

    if wrap:
        app.wsgi_app = _StartsLate(app.wsgi_app)  # type: ignore[method-assign]
    registry = CollectorRegistry()
    instrument(app, service_name="bridge", registry=registry, traces=False, access_log=False, json_logs=False)
    return app, WsgiClient(app), registry


@pytest.mark.parametrize("wrap", [False, True], ids=["flask-wsgi-app", "wrapped-wsgi-app"])
@pytest.mark.parametrize("propagate", [False, True], ids=["handled", "propagated"])
def test_flask_routes_are_templates_however_the_response_is_made(wrap: bool, propagate: bool) -> None:
    app, client, registry = _flask_service(wrap, propagate)
    try:
        assert client.get("/items/7").status == 200
        assert client.get("/denied/x").status == 403
        boom = client.get("/boom/y")
        assert boom.status == 500
        assert (boom.raised is not None) is propagate
        assert client.get("/nowhere").status == 404
        expected = {
            ("/items/<int:item_id>", "200"): 1.0,
            ("/denied/<name>", "403"): 1.0,
            ("/boom/<name>", "500"): 1.0,
            (UNMATCHED_ROUTE, "404"): 1.0,
        }
        got = {
            (s.labels[ROUTE_LABEL], s.labels[STATUS_LABEL]): s.value
            for m in registry.collect() if m.name == HTTP_SERVER_REQUESTS.prometheus_client_name
            for s in m.samples if s.name == REQUESTS
        }  # fmt: skip
        assert got == expected
    finally:
        uninstrument(app)


@pytest.mark.parametrize("wrap", [False, True], ids=["flask-wsgi-app", "wrapped-wsgi-app"])
def test_flask_gets_a_before_request_function_only_when_its_wsgi_app_is_wrapped(wrap: bool) -> None:
    app, _client, _registry = _flask_service(wrap, propagate=False)
    try:
        assert (record_route in app.before_request_funcs.get(None, [])) is wrap
    finally:
        uninstrument(app)
    assert record_route not in app.before_request_funcs.get(None, [])


# --- the cached children store exactly what prometheus_client's own calls would -----------------

_EXEMPLAR = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
#: Bucket bounds and the values either side of them, zero, negative, huge and NaN.
_OBSERVED = [
    *sorted({v for b in HTTP_DURATION_BUCKETS for v in (b, b * 0.999, b * 1.001)}), 0.0, -0.5, 1e9, float("nan"),
]


def _histogram_samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): (s.value, s.exemplar)
        for m in registry.collect() if m.name in (HTTP_SERVER_DURATION.name, HTTP_SERVER_REQUESTS.prometheus_client_name)
        for s in m.samples if not s.name.endswith("_created")
    }  # fmt: skip


@pytest.mark.parametrize("with_exemplar", [False, True], ids=["plain", "exemplar"])
def test_the_duration_child_stores_what_histogram_observe_and_counter_inc_store(with_exemplar: bool) -> None:
    fast, reference = CollectorRegistry(), CollectorRegistry()
    child = HttpMetrics(fast).duration_child("GET", "/items/{id}", 200)
    assert child.fast
    metrics = HttpMetrics(reference)
    histogram = metrics.duration.labels("GET", "/items/{id}")
    requests = metrics.requests.labels("GET", "/items/{id}", "200")
    for n, seconds in enumerate(_OBSERVED):
        exemplar = {**_EXEMPLAR, "span_id": f"{n:016x}"} if with_exemplar else None
        child.observe(seconds, exemplar, 1_700_000_000.0 + n)
        with patch("prometheus_client.metrics.time.time", return_value=1_700_000_000.0 + n):
            histogram.observe(seconds, exemplar)
        requests.inc()
    assert fast.get_sample_value(REQUESTS, labels("GET", "/items/{id}", 200)) == len(_OBSERVED)
    got, want = _histogram_samples(fast), _histogram_samples(reference)
    assert got.keys() == want.keys()
    for key, (value, exemplar) in want.items():
        assert got[key][1] == exemplar, key
        assert got[key][0] == value or (value != value and got[key][0] != got[key][0]), key


def test_a_histogram_class_that_overrides_observe_is_called_not_bypassed() -> None:
    calls: list[tuple[float, Any]] = []

    class Recording(Histogram):
        def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
            calls.append((amount, exemplar))
            super().observe(amount, exemplar)

    registry = CollectorRegistry()
    histogram = Recording("recording_seconds", "test", ["route"], registry=registry)
    requests = Counter("recording_requests", "test", ["route", "status"], registry=registry)
    child = DurationChild(histogram.labels("/a"), Histogram.DEFAULT_BUCKETS, requests.labels("/a", "200"))
    child.observe(0.25, _EXEMPLAR, 1.0)
    assert calls == [(0.25, _EXEMPLAR)]
    assert histogram.labels("/a")._sum.get() == 0.25
    assert registry.get_sample_value("recording_requests_total", {"route": "/a", "status": "200"}) == 1


def test_the_in_flight_child_moves_the_gauge_it_came_from() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)
    active = metrics.active_child("GET")
    active.inc()
    active.inc()
    active.dec()
    assert registry.get_sample_value(HTTP_SERVER_ACTIVE.name, {METHOD_LABEL: "GET"}) == 1


def test_the_in_flight_count_loses_no_update_between_threads_and_reads_live() -> None:
    """In one process the count is kept outside the gauge's value (see ActiveChild): threads that
    start and finish requests at once, with scrapes in between, must leave it exact."""
    import threading

    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)
    active = metrics.active_child("POST")
    seen: list[float] = []
    threads, pairs = 8, 5_000
    start = threading.Barrier(threads + 1, timeout=10)

    def requests() -> None:
        start.wait()
        for _ in range(pairs):
            active.inc()
            active.dec()

    workers = [threading.Thread(target=requests) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers):
        seen.append(registry.get_sample_value(HTTP_SERVER_ACTIVE.name, {METHOD_LABEL: "POST"}) or 0.0)
    for worker in workers:
        worker.join(timeout=30)
    assert seen and all(0 <= value <= threads for value in seen)
    assert registry.get_sample_value(HTTP_SERVER_ACTIVE.name, {METHOD_LABEL: "POST"}) == 0
    active.inc()
    assert registry.get_sample_value(HTTP_SERVER_ACTIVE.name, {METHOD_LABEL: "POST"}) == 1
    assert "# TYPE " + HTTP_SERVER_ACTIVE.name + " gauge" in generate_latest(registry).decode()


def test_flask_status_lines_are_read_by_their_code_whatever_the_reason_phrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """The WSGI wrapper remembers the status lines it has parsed ("200 OK" -> 200), a bounded
    number of them: an app that makes up a reason phrase per response must not grow it, and every
    response is still counted under its code."""
    from flask import Flask

    from instrumentation import _wsgi

    monkeypatch.setattr(_wsgi, "_STATUS_CODES", {})
    app = Flask("statuses")

    @app.get("/s/<int:n>")
    def status(n: int) -> tuple[str, str]:
        return "", f"{200 + n % 3} PHRASE {n}"

    registry = CollectorRegistry()
    instrument(app, service_name="statuses", registry=registry, traces=False, access_log=False)
    try:
        client = WsgiClient(app)
        total = _wsgi._STATUS_CODES_MAX + 51
        for n in range(total):
            assert client.get(f"/s/{n}").status == 200 + n % 3
        assert len(_wsgi._STATUS_CODES) == _wsgi._STATUS_CODES_MAX
        counts = [registry.get_sample_value(REQUESTS, labels("GET", "/s/<int:n>", code)) for code in (200, 201, 202)]
        assert counts == [len(range(start, total, 3)) for start in (0, 1, 2)]
    finally:
        uninstrument(app)
