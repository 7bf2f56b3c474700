"""What one service's /metrics holds, and how benchmarks/bench_metrics_size.py counts it.

obs's exposition after a fixed traffic pattern is exactly what the contract says: one duration
histogram per (method, route) the traffic made, with the contract's buckets, one request counter
series per (method, route, status), no ``_created`` series, and fixed families beside them. The
benchmark's counts are checked against prometheus_client's own parsers, its projection of other
designs against obs's real exposition, and issue 18's budget (at most 2x
prometheus-fastapi-instrumentator's series and bytes) on the issue's traffic shape.
"""

from __future__ import annotations

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from benchmarks.bench_metrics_size import (
    BEFORE_BUCKETS,
    OBS_DURATION,
    OBS_REQUESTS_TOTAL,
    SHAPES,
    TARGET_RATIO,
    UNMATCHED,
    Exposition,
    Measured,
    Shape,
    candidate,
    measure,
    ratios,
)
from obs.contract import (
    HTTP_DURATION_BUCKETS,
    HTTP_SERVER_REQUESTS,
    INSTRUMENTATION_ERROR_STAGES,
    TRACE_SPAN_DROP_REASONS,
    UNMATCHED_ROUTE,
)

SHAPE = Shape("test", routes=2, methods=("GET", "POST"), statuses=(200, 404, 500))


@pytest.fixture(scope="module")
def measured() -> Measured:
    return measure(SHAPE, rounds=1)


def sample_names(exposition: Exposition) -> list[str]:
    return [
        line.split("{")[0].split(" ")[0]
        for line in exposition.body.decode().splitlines()
        if line and line[0] != "#"
    ]


def series_of(shape: Shape) -> tuple[int, int]:
    """(duration histogram series, request counter series) the contract gives for ``shape``'s
    traffic: a histogram per (method, route), a counter per (method, route, status); every
    unmatched URL is one route value, a 404."""
    unmatched_methods = {method for method, _ in UNMATCHED}
    routes = len(shape.templates) * len(shape.methods) + len(unmatched_methods)
    statuses = len(shape.templates) * len(shape.methods) * len(shape.statuses) + len(unmatched_methods)
    return routes * (len(HTTP_DURATION_BUCKETS) + 3), statuses  # the buckets, +Inf, _sum and _count


def test_obs_series_are_the_contracts_histogram_and_counter_per_label_set_and_fixed_families(
    measured: Measured,
) -> None:
    names = sample_names(measured.obs.text)
    assert not [n for n in names if n.endswith("_created")], "obs exposes no _created series"
    histogram, counter = series_of(SHAPE)
    assert sum(n.startswith(OBS_DURATION) for n in names) == histogram
    assert names.count(OBS_REQUESTS_TOTAL) == counter
    assert HTTP_SERVER_REQUESTS.name == OBS_REQUESTS_TOTAL
    assert measured.obs.text.label_sets(OBS_DURATION) == len(SHAPE.templates) * len(SHAPE.methods) + len(
        {method for method, _ in UNMATCHED}
    )
    assert measured.obs.text.buckets(OBS_DURATION) == list(HTTP_DURATION_BUCKETS)
    assert f'http_route="{UNMATCHED_ROUTE}"' in measured.obs.text.body.decode()
    unmatched_methods = {method for method, _ in UNMATCHED}
    fixed = {
        "obs_instrumentation_errors_total": len(INSTRUMENTATION_ERROR_STAGES),
        "obs_trace_spans_dropped_total": len(TRACE_SPAN_DROP_REASONS),
        "obs_trace_spans_exported_total": 1,
        "target_info": 1,
        "http_server_active_requests": len(set(SHAPE.methods) | unmatched_methods),
    }
    for name, count in fixed.items():
        assert names.count(name) == count, name
    rest = [n for n in names if not n.startswith((OBS_DURATION, OBS_REQUESTS_TOTAL, "process_", *fixed))]
    assert rest == []


@pytest.mark.parametrize("who", ["obs", "instrumentator"])
@pytest.mark.parametrize("fmt", ["text", "openmetrics"])
def test_the_benchmark_counts_the_samples_prometheus_client_parses(
    measured: Measured, who: str, fmt: str
) -> None:
    scrapes = measured.obs if who == "obs" else measured.other
    exposition: Exposition = getattr(scrapes, fmt)
    parse = parse_text if fmt == "text" else parse_openmetrics
    parsed = [s.name for family in parse(exposition.body.decode()) for s in family.samples]
    runtime = sum(1 for n in parsed if n.startswith(("process_", "python_")))
    assert (exposition.totals()[0], exposition.totals(runtime=True)[0]) == (len(parsed) - runtime, runtime)
    assert sum(exposition.totals()) + sum(exposition.totals(runtime=True)) > 0


def test_the_projection_of_obs_own_design_reproduces_obs_exposition(measured: Measured) -> None:
    real = measured.obs.text
    projected = candidate(real, HTTP_DURATION_BUCKETS, status_on_histogram=False)
    (real_series, real_bytes), (series, size) = real.totals(), projected.totals()
    assert series == real_series
    assert size == pytest.approx(real_bytes, rel=0.01)  # only the digits of the sums differ
    # obs before issue 18: the 20-bucket histogram per (method, route, status), no counter.
    before = candidate(real, BEFORE_BUCKETS, status_on_histogram=True)
    histogram, counter = series_of(SHAPE)
    assert before.totals()[0] == real_series - histogram - counter + counter * (len(BEFORE_BUCKETS) + 3)


def test_the_issues_traffic_keeps_obs_within_twice_the_instrumentators_series_and_bytes() -> None:
    """Issue 18's target on its own shape (20 routes x 3 methods x 4 statuses), both formats,
    obs's OpenMetrics with the exemplars this traffic leaves."""
    issue = measure(SHAPES["issue"], rounds=1)
    histogram, counter = series_of(SHAPES["issue"])
    assert sum(n.startswith((OBS_DURATION, OBS_REQUESTS_TOTAL)) for n in sample_names(issue.obs.text)) == (
        histogram + counter
    )
    assert max(ratios(issue.obs, issue.other)) <= TARGET_RATIO, ratios(issue.obs, issue.other)
