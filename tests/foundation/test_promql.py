"""PromQL checks: every expression parses and names only metrics somebody emits."""

from __future__ import annotations

import pytest

from edu_platform import platform as edu
from obs import contract
from obs.artifacts import Artifact
from obs.builder import check_promql, render_environment, select_groups
from obs.errors import PromQLError
from obs.promql import Query, check_query, selected_metrics, substitute_grafana_variables

KNOWN = contract.known_series_names()


def test_selected_metrics_finds_every_selector_including_name_matchers() -> None:
    names, regexes = selected_metrics(
        'sum(rate(a_total[5m])) / on(job) b unless absent(c) and {__name__="d"} + {__name__=~"e.*"}'
    )
    assert names == {"a_total", "b", "c", "d"}
    assert regexes == ["e.*"]


def test_a_contract_query_passes() -> None:
    check_query(
        Query(
            'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service="backend"}[5m])))',
            "p99",
        ),
        KNOWN,
        "rules.yml",
    )


def test_a_typo_is_an_error_naming_artifact_expression_and_the_closest_metric() -> None:
    expr = 'sum(rate(http_server_request_duration_second_count{service="backend"}[5m]))'
    with pytest.raises(PromQLError) as excinfo:
        check_query(Query(expr, "alert HighErrorRate"), KNOWN, "prometheus/rules/backend.yml")
    assert str(excinfo.value) == (
        "prometheus/rules/backend.yml: alert HighErrorRate: unknown metric 'http_server_request_duration_second_count' "
        "(did you mean 'http_server_request_duration_seconds_count'?)\n  in: " + expr
    )


def test_a_metric_the_author_declares_is_accepted() -> None:
    check_query(
        Query("my_custom_queue_depth > 10", "custom", declared=frozenset({"my_custom_queue_depth"})),
        KNOWN,
        "x",
    )


def test_recorded_series_are_known_when_passed_in() -> None:
    with pytest.raises(PromQLError, match="unknown metric 'service:sli_error:ratio_rate5m'"):
        check_query(Query("service:sli_error:ratio_rate5m > 0.1", "a"), KNOWN, "x")
    check_query(
        Query("service:sli_error:ratio_rate5m > 0.1", "a"), KNOWN | {"service:sli_error:ratio_rate5m"}, "x"
    )


def _rules_of_the_build() -> dict[str, list[Artifact]]:
    return render_environment(edu, edu.environments[0], select_groups(["rules"]))


def _dashboard(expr: str) -> Artifact:
    return Artifact("grafana/dashboards/platform/x.json", {}, queries=(Query(expr, "panel 'Burn rate'"),))


def test_the_build_accepts_a_series_its_own_rules_record() -> None:
    rendered = _rules_of_the_build()
    assert any("slo:sli_error:ratio_rate1h" in a.records for a in rendered["rules"])
    check_promql(
        {
            **rendered,
            "grafana": [_dashboard('slo:sli_error:ratio_rate1h{service="backend", slo="availability"}')],
        }
    )


def test_the_build_rejects_a_recording_name_no_rule_of_it_records() -> None:
    rendered = _rules_of_the_build()
    with pytest.raises(
        PromQLError,
        match=r"unknown metric 'slo:sli_error:ratio_rate7m' \(did you mean 'slo:sli_error:ratio_rate5m'\?\)",
    ):
        check_promql({**rendered, "grafana": [_dashboard('slo:sli_error:ratio_rate7m{service="backend"}')]})
    with pytest.raises(
        PromQLError, match=r"unknown metric 'team:spend:ratio' \(no recording rule of this build records it\)"
    ):
        check_promql({**rendered, "grafana": [_dashboard("team:spend:ratio")]})
    # Without the rules in the build, even a real recording is unknown: the check does not guess.
    with pytest.raises(PromQLError, match="unknown metric 'slo:sli_error:ratio_rate1h'"):
        check_promql({"grafana": [_dashboard('slo:sli_error:ratio_rate1h{service="backend"}')]})


def test_a_syntax_error_carries_the_parser_message() -> None:
    with pytest.raises(PromQLError, match=r"x: a: does not parse: unclosed left parenthesis"):
        check_query(Query("sum(rate(up[5m])", "a"), KNOWN, "x")


def test_a_name_regex_must_match_a_known_metric() -> None:
    check_query(Query('{__name__=~"redis_.*"}', "a"), KNOWN, "x")
    with pytest.raises(PromQLError, match="matches no known metric"):
        check_query(Query('{__name__=~"mysql_.*"}', "a"), KNOWN, "x")


@pytest.mark.parametrize(
    ("grafana", "parsed"),
    [
        ('rate(up{service="$service"}[$__rate_interval])', 'rate(up{service="var"}[5m])'),
        ('rate(up{service=~"${service:regex}"}[${__interval}])', 'rate(up{service=~"var"}[5m])'),
        ('up{route="[[route]]"}', 'up{route="var"}'),
    ],
)
def test_grafana_variables_are_substituted_before_parsing(grafana: str, parsed: str) -> None:
    assert substitute_grafana_variables(grafana) == parsed
