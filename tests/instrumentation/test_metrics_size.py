"""What one service's /metrics holds, and how benchmarks/bench_metrics_size.py counts it.

obs's exposition after a fixed traffic pattern is exactly what the contract says: one duration
histogram per (method, route, status) the traffic made, with the contract's buckets, and fixed
families beside it. The benchmark's counts are checked against prometheus_client's own parsers, and
its projection of other designs against obs's real exposition.
"""

from __future__ import annotations

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from benchmarks.bench_metrics_size import (
    OBS_DURATION,
    UNMATCHED,
    Exposition,
    Measured,
    Shape,
    candidate,
    measure,
)
from obs.contract import (
    HTTP_DURATION_BUCKETS,
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


def test_obs_series_are_the_contracts_histogram_per_label_set_and_fixed_families(measured: Measured) -> None:
    names = [n for n in sample_names(measured.obs.text) if not n.endswith("_created")]
    label_sets = len(SHAPE.templates) * len(SHAPE.methods) * len(SHAPE.statuses)
    unmatched_methods = {method for method, _ in UNMATCHED}  # every unmatched URL: one route value, a 404
    label_sets += len(unmatched_methods)
    per_label_set = len(HTTP_DURATION_BUCKETS) + 3  # the buckets, +Inf, _sum and _count
    assert sum(n.startswith(OBS_DURATION) for n in names) == label_sets * per_label_set
    assert measured.obs.text.label_sets(OBS_DURATION) == label_sets
    assert measured.obs.text.buckets(OBS_DURATION) == list(HTTP_DURATION_BUCKETS)
    assert f'http_route="{UNMATCHED_ROUTE}"' in measured.obs.text.body.decode()
    fixed = {
        "obs_instrumentation_errors_total": len(INSTRUMENTATION_ERROR_STAGES),
        "obs_trace_spans_dropped_total": len(TRACE_SPAN_DROP_REASONS),
        "obs_trace_spans_exported_total": 1,
        "target_info": 1,
        "http_server_active_requests": len(set(SHAPE.methods) | unmatched_methods),
    }
    for name, count in fixed.items():
        assert names.count(name) == count, name
    rest = [n for n in names if not n.startswith((OBS_DURATION, "process_", *fixed))]
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


def test_obs_without_created_has_no_created_series_and_nothing_else_less(measured: Measured) -> None:
    with_created = sample_names(measured.obs.text)
    without = sample_names(measured.obs_without_created.text)
    assert not [n for n in without if n.endswith("_created")]
    assert sorted(without) == sorted(n for n in with_created if not n.endswith("_created"))


def test_the_projection_of_obs_own_design_reproduces_obs_exposition(measured: Measured) -> None:
    real = measured.obs_without_created.text
    projected = candidate(real, HTTP_DURATION_BUCKETS, status_on_histogram=True)
    (real_series, real_bytes), (series, size) = real.totals(), projected.totals()
    assert series == real_series
    assert size == pytest.approx(real_bytes, rel=0.01)  # only the digits of the sums differ
    # Status off the histogram: one counter series per label set, one histogram per method and route.
    split = candidate(real, HTTP_DURATION_BUCKETS, status_on_histogram=False)
    routes = len(SHAPE.templates) * len(SHAPE.methods) + len({method for method, _ in UNMATCHED})
    label_sets = real.label_sets(OBS_DURATION)
    assert (
        split.totals()[0]
        == real_series - (label_sets - routes) * (len(HTTP_DURATION_BUCKETS) + 3) + label_sets
    )
