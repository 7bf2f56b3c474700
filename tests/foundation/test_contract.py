"""The metrics contract: one source of names, cheap to import, consistent with itself."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obs import contract


@pytest.mark.parametrize("threshold", contract.SLO_THRESHOLDS_SECONDS)
def test_every_typical_slo_threshold_is_an_exact_bucket_boundary(threshold: float) -> None:
    assert threshold in contract.HTTP_SERVER_DURATION.buckets


def test_buckets_are_sorted_and_unique() -> None:
    buckets = contract.HTTP_DURATION_BUCKETS
    assert list(buckets) == sorted(set(buckets))


def test_histogram_series_names_cover_bucket_sum_and_count() -> None:
    assert contract.HTTP_SERVER_DURATION.series_names == {
        "http_server_request_duration_seconds_bucket",
        "http_server_request_duration_seconds_sum",
        "http_server_request_duration_seconds_count",
    }


def test_http_metrics_follow_the_stable_otel_semantic_conventions() -> None:
    assert contract.HTTP_SERVER_DURATION.labels == ("http_request_method", "http_route")
    assert contract.HTTP_SERVER_REQUESTS.labels == (
        "http_request_method",
        "http_route",
        "http_response_status_code",
    )


def test_obs_counters_name_no_created_series_others_do() -> None:
    """obs's exposition leaves ``_created`` out (exporters.prometheus): a query of one is an error."""
    assert contract.HTTP_SERVER_REQUESTS.series_names == {"http_server_requests_total"}
    assert "http_server_requests_created" not in contract.known_series_names()
    assert "prometheus_notifications_sent_created" in contract.known_series_names()
    assert (
        "http_host" not in contract.HTTP_METRIC_LABELS and "server_address" not in contract.HTTP_METRIC_LABELS
    )


@pytest.mark.parametrize(
    ("method", "label"),
    [("get", "GET"), ("PATCH", "PATCH"), ("PROPFIND", "_OTHER"), ("", "_OTHER"), ("G\x00ET", "_OTHER")],
)
def test_methods_are_normalized_to_a_closed_set(method: str, label: str) -> None:
    assert contract.normalize_method(method) == label


def test_a_counter_must_end_with_total() -> None:
    with pytest.raises(ValueError, match="must end with _total"):
        contract.Metric("requests", "counter", "x")


def test_every_series_name_is_declared_once() -> None:
    assert len(contract.SERIES_INDEX) == sum(len(m.series_names) for m in contract.ALL_METRICS)


@pytest.mark.parametrize("rule", contract.REDACTION_RULES, ids=lambda r: r.name)
def test_every_redaction_rule_redacts_its_examples(rule: contract.RedactionRule) -> None:
    assert rule.examples, "each rule documents what it catches"
    for example in rule.examples:
        assert example not in contract.redact(f"before {example} after")


@pytest.mark.parametrize("rule", [r for r in contract.REDACTION_RULES if r.clues], ids=lambda r: r.name)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_of_a_rule_holds_one_of_its_clues(rule: contract.RedactionRule, data: st.DataObject) -> None:
    """The clues are what the hot path checks before running a rule: a match without one would leak."""
    text = data.draw(st.from_regex(rule.pattern))
    match = rule.compiled().search(text)
    assert match is not None
    found = match.group(0)
    if rule.ignore_case:
        if not found.isascii():
            return  # the hot path runs the rule on non-ASCII text whatever its clues
        found = found.lower()
    assert any(clue in found for clue in rule.clues), (rule.name, found)


_DETECTED = [r for r in contract.REDACTION_RULES if r.detector]


@pytest.mark.parametrize("rule", _DETECTED, ids=lambda r: r.name)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_rules_detector_finds_a_match_exactly_where_its_pattern_does(
    rule: contract.RedactionRule, data: st.DataObject
) -> None:
    """The hot path asks the detector whether a text can match: a miss where the pattern matches
    would leak, a find where it does not would only cost time (both are checked)."""
    pattern, detector = rule.compiled(), rule.compiled_detector()
    match = data.draw(st.from_regex(rule.pattern, fullmatch=True))
    # Around a match, and texts near one: the pattern's own characters, cut and mixed with others.
    near = data.draw(st.text(alphabet=st.sampled_from("+0123456789 ().-/ax"), max_size=40))
    for text in (match, f"/api/{match}/x", near, near + match[: len(match) // 2]):
        assert (detector.search(text) is None) == (pattern.search(text) is None), (rule.name, text)


@pytest.mark.parametrize(
    "text", ["/items/42", "/api/courses/1234/lessons/5678", "call +44 20 7946 0958", "(555) 123-4567", "+1234567890"]
)
def test_the_phone_detector_agrees_on_the_usual_texts(text: str) -> None:
    (phone,) = [r for r in _DETECTED if r.name == "phone"]
    assert (phone.compiled_detector().search(text) is None) == (phone.compiled().search(text) is None)


@pytest.mark.parametrize("rule", contract.REDACTION_RULES, ids=lambda r: r.name)
def test_clues_of_case_insensitive_rules_are_lower_case(rule: contract.RedactionRule) -> None:
    assert all(clue == clue.lower() for clue in rule.clues) or not rule.ignore_case


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "GET /api/courses/{course_id} returned 200 in 12 ms for course 42"
    assert contract.redact(text) == text


@pytest.mark.parametrize(
    ("target", "stripped"), [("/a?email=x@y.z", "/a"), ("/a#frag", "/a"), ("/a/b", "/a/b"), ("/?#", "/")]
)
def test_query_strings_and_fragments_are_dropped(target: str, stripped: str) -> None:
    assert contract.strip_query(target) == stripped


def test_the_contract_imports_no_heavy_module() -> None:
    code = "import sys, obs.contract; heavy = {'yaml', 'promql_parser', 'grafana_foundation_sdk', 'obs.model', 'obs.cli', 'obs.builder'}; print(sorted(heavy & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
