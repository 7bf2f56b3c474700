"""Exemplars with several workers: a real gunicorn with three workers in prometheus-client's
multiprocess mode serves ``/metrics`` in OpenMetrics with exemplars on the duration histogram's
buckets, whose trace ids are spans the OTLP receiver got and the trace ids of access lines; each
worker keeps its own exemplar file, merged at the scrape."""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporters.exemplars import FILE_PREFIX, read_latest
from obs.contract import HTTP_SERVER_DURATION
from tests.conftest import free_port
from tests.instrumentation.otlp_sink import OtlpSink
from tests.instrumentation.test_server_logs import get, output, records, server
from tests.instrumentation.test_servers import BIN

pytestmark = pytest.mark.slow
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def exemplar_trace_ids(body: str) -> dict[tuple[str, str], str]:
    """(route, le) -> the trace id of that bucket's exemplar, from an OpenMetrics exposition."""
    found: dict[tuple[str, str], str] = {}
    for family in text_string_to_metric_families(body):
        if family.name != HTTP_SERVER_DURATION.name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.exemplar is not None:
                found[(sample.labels["http_route"], sample.labels["le"])] = sample.exemplar.labels["trace_id"]
    return found


def scrape(base: str) -> str:
    request = urllib.request.Request(base + "/metrics", headers={"Accept": OPENMETRICS})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        return str(resp.read().decode())


def test_a_gunicorn_with_three_workers_serves_exemplars_of_spans_the_collector_got(tmp_path: Path) -> None:
    mpdir = tmp_path / "prom"
    mpdir.mkdir()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "from exporters.prometheus import child_exit  # noqa: F401\n"
        'logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"\n'
    )
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "tests.instrumentation.apps:make_flask_app()", "-b", f"127.0.0.1:{port}",
           "-w", "3", "--timeout", "20", "-c", str(conf)]  # fmt: skip
    with OtlpSink() as sink:
        env = {
            "PROMETHEUS_MULTIPROC_DIR": str(mpdir),
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.http_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        with server(cmd, port, tmp_path, env) as base:
            targets = [f"/items/{n}" for n in range(30)] + ["/nope", "/boom", "/log"] * 5 + ["/sleep"] * 12
            with ThreadPoolExecutor(max_workers=6) as pool:  # sync workers: concurrency spreads them
                answers = list(pool.map(lambda t: get(base + t), targets))
            assert answers.count(200) == 30 + 5 + 12
            # Each worker writes its exemplars within a second; wait for several workers' files.
            deadline = time.monotonic() + 15
            while len(list(mpdir.glob(f"{FILE_PREFIX}*.json"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)  # the last requests' exemplars
            exemplars = exemplar_trace_ids(scrape(base))
            files = sorted(mpdir.glob(f"{FILE_PREFIX}*.json"))
            # The scrape gives each bucket the newest exemplar any worker kept for it.
            newest = {(k[0][1], k[1]): v[0]["trace_id"] for k, v in read_latest(str(mpdir)).items()}
            wanted = set(exemplars.values())
            spans = sink.wait_for(lambda got: wanted <= {s.trace_id for s in got}, timeout=20)
    assert len(files) >= 2, f"exemplar files of several workers: {[f.name for f in files]}"
    assert {route for route, _ in exemplars} >= {"/items/<int:item_id>", "/sleep", "__unmatched__", "/boom"}
    received = {s.trace_id for s in spans}
    assert set(exemplars.values()) <= received, "every exemplar is a span the collector received"
    logged = {r.get("trace.id") for r in records(output(tmp_path)[1]) if r.get("event.dataset") == "access"}
    assert set(exemplars.values()) <= logged, "and the trace id of an access line"
    by_bucket = {(route, float(le)): trace_id for (route, le), trace_id in exemplars.items()}
    assert by_bucket == newest, "each bucket's newest exemplar over every worker's file"
