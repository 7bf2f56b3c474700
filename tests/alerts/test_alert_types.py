"""obs.alerting: the value types every alert is made of, and the checks that guard them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs.alerting import (
    Alert,
    AlertTest,
    Fires,
    Series,
    Severity,
    render_template,
    require_tests,
)
from obs.errors import ModelError
from obs.tools import available, run_tool
from obs.writer import dump_yaml

promtool = pytest.mark.skipif(not available("promtool"), reason="promtool not installed")


def alert(**fields: Any) -> Alert:
    base: dict[str, Any] = {
        "name": "QueueBacklog",
        "expr": "up == 0",
        "severity": Severity.TICKET,
        "service": "bridge",
        "team": "integrations",
        "summary": "backlog of {{ $value | humanize }} jobs",
        "description": "The sync queue on {{$labels.instance}} holds {{ $value | humanize }} jobs.",
        "runbook_url": "https://runbooks.example.org/bridge#queuebacklog",
        "dashboard_url": "https://grafana.example.org/d/obs-svc-bridge?viewPanel=2&var-instance={{$labels.instance}}",
        "source": "alerts/queue.py",
    }
    base.update(fields)
    return Alert(**base)


def test_the_severity_scale_has_three_values() -> None:
    assert [s.value for s in Severity] == ["page", "ticket", "info"]


def test_an_alert_carries_severity_team_and_service_labels_and_four_annotations() -> None:
    rule = alert(labels={"queue": "rosters"}, for_="10m").rule()
    assert rule["labels"] == {
        "severity": "ticket",
        "service": "bridge",
        "team": "integrations",
        "queue": "rosters",
    }
    assert sorted(rule["annotations"]) == ["dashboard_url", "description", "runbook_url", "summary"]
    assert rule["for"] == "10m"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"name": "queue_backlog"},
            r"alerts/queue.py: alert queue_backlog: 'queue_backlog' is not an alert name \(use CamelCase",
        ),
        (
            {"severity": "critical"},
            r"severity 'critical' is not on the scale \(use one of page, ticket, info\)",
        ),
        ({"labels": {"severity": "page"}}, r"label 'severity' cannot be set here"),
        ({"labels": {"team": "web"}}, r"label 'team' cannot be set here"),
        ({"summary": " "}, r"the summary is empty"),
        (
            {"dashboard_url": "https://grafana.example.org/d/x?var-s={{ $labels.service }}"},
            r"dashboard_url .* is not a URL without spaces \(write template variables as \{\{\$labels.service\}\}\)",
        ),
        ({"runbook_url": "runbooks/bridge"}, r"runbook_url 'runbooks/bridge' is not a URL"),
        ({"for_": "ten minutes"}, r"'ten minutes' is not a duration"),
        ({"expr": "  "}, r"the expression is empty"),
    ],
)
def test_a_malformed_alert_is_refused_naming_its_file_and_the_fix(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        alert(**fields)


QUIET = AlertTest("healthy", (Series("up", "1x10"),), "10m")
FIRING = AlertTest("down", (Series("up", "0x10"),), "10m", fires=(Fires(value=0),))


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        ((), r"alerts/queue.py: alert QueueBacklog: has no test case where it fires"),
        ((QUIET,), r"has no test case where it fires"),
        ((FIRING,), r"has no test case where it must stay silent"),
    ],
)
def test_an_alert_without_a_firing_and_a_silent_case_is_refused(
    tests: tuple[AlertTest, ...], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        require_tests(alert(tests=tests))


def test_an_alert_with_both_cases_passes() -> None:
    require_tests(alert(tests=(FIRING, QUIET)))


def test_expected_alerts_merge_the_expression_labels_and_render_the_annotations() -> None:
    expected = alert().expected(Fires(value=1234, labels={"instance": "bridge-0:5000"}))
    assert expected["exp_labels"] == {
        "instance": "bridge-0:5000",
        "severity": "ticket",
        "service": "bridge",
        "team": "integrations",
    }
    assert expected["exp_annotations"]["summary"] == "backlog of 1.234k jobs"
    assert expected["exp_annotations"]["dashboard_url"].endswith("var-instance=bridge-0:5000")


def test_a_template_action_obs_cannot_predict_is_refused() -> None:
    with pytest.raises(
        ModelError, match=r"template action \{\{ \$value \| title \}\} is not one obs can predict"
    ):
        render_template("{{ $value | title }}", {}, 1.0, "alerts/x.py: alert X.annotations.summary")


# The Python rendering of expected annotations must equal Go's: promtool is the judge.
VALUES = [0.0, 0.000512, 0.0374, 0.5, 0.99999, 1.0, 59.5, 61.0, 3661.0, 90061.0, 1234567.0, 2.5e9, -42.0]
TEMPLATE = (
    "h={{ $value | humanize }} d={{ $value | humanizeDuration }} p={{ $value | humanizePercentage }} "
    'b={{ $value | humanize1024 }} f={{ printf "%.2f" $value }} c={{$labels.case}}'
)


@promtool
def test_expected_annotations_render_exactly_like_prometheus(tmp_path: Path) -> None:
    rule = {"alert": "Value", "expr": "value", "labels": {}, "annotations": {"summary": TEMPLATE}}
    (tmp_path / "rules.yml").write_text(dump_yaml({"groups": [{"name": "values", "rules": [rule]}]}))
    exp_alerts = [
        {
            "exp_labels": {"case": str(i)},
            "exp_annotations": {"summary": render_template(TEMPLATE, {"case": str(i)}, v)},
        }
        for i, v in enumerate(VALUES)
    ]
    test_file = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'value{{case="{i}"}}', "values": f"{v!r}x2"} for i, v in enumerate(VALUES)
                ],
                "alert_rule_test": [{"eval_time": "1m", "alertname": "Value", "exp_alerts": exp_alerts}],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(dump_yaml(test_file))
    result = run_tool("promtool", ["test", "rules", "test.yml"], cwd=tmp_path)
    assert result.ok, result.output
