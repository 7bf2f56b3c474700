"""The rules renderer: what on-call is paged by, read from the rendered files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_platforms import small_platform

from obs import links
from obs.alerting import Severity
from obs.builder import build, render
from obs.checks import rules as rules_checks
from obs.errors import ModelError, PromQLError
from obs.loader import load_platform
from obs.model import Platform
from obs.tools import available

ENVS = ["prod", "staging", "dev"]


def rules_of(out: Path, env: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((out / env / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield path.name, rule


def alerts_of(out: Path, env: str) -> list[dict[str, Any]]:
    return [r for _, r in rules_of(out, env) if "alert" in r]


# --- golden files -------------------------------------------------------------------------------


def test_prod_rules_and_their_tests_match_the_golden_files(
    edu_out: Path, golden: Callable[[str, bytes], None]
) -> None:
    prom = edu_out / "prod" / "prometheus"
    files = sorted(prom.glob("rules/*.yml")) + sorted(prom.glob("tests/*.yml"))
    assert len(files) > 20
    for path in files:
        golden(f"rules/prod/{path.relative_to(prom)}", path.read_bytes())


def test_dev_probes_have_no_certificate_alert_because_dev_probes_plain_http(
    edu_out: Path, golden: Callable[[str, bytes], None]
) -> None:
    path = edu_out / "dev" / "prometheus" / "rules" / "probes.yml"
    golden("rules/dev/rules/probes.yml", path.read_bytes())
    assert "TLSCertificateExpiring" not in path.read_text()
    assert "TLSCertificateExpiring" in (edu_out / "prod" / "prometheus" / "rules" / "probes.yml").read_text()


# --- every alert --------------------------------------------------------------------------------


EDU_ALERTS = {
    ("ErrorBudgetBurn", "backend", "page"), ("ErrorBudgetBurn", "backend", "ticket"),
    ("ErrorBudgetBurn", "bridge", "page"), ("ErrorBudgetBurn", "bridge", "ticket"),
    ("HighErrorRate", "backend", "ticket"), ("HighErrorRate", "bridge", "ticket"),
    ("LatencyP99High", "backend", "ticket"), ("LatencyP99High", "bridge", "ticket"),
    ("InstrumentationMissing", "backend", "ticket"), ("InstrumentationMissing", "bridge", "ticket"),
    # A dead service pages its owner by tier (both tier 1 and 2 page); the hold of each upstream.
    ("ServiceDown", "backend", "page"), ("ServiceDown", "bridge", "page"),
    *{("RecentOutage", s, "info") for s in ("backend", "postgres", "redis")},
    *{("TargetDown", s, "ticket") for s in ("backend", "bridge", "postgres", "redis", "node", "blackbox-http", "prometheus", "alertmanager")},
    *{("MetricsAbsent", s, "ticket") for s in ("backend", "bridge", "postgres", "redis", "node", "blackbox-http", "prometheus", "alertmanager")},
    ("PostgresDown", "postgres", "page"), ("PostgresTooManyConnections", "postgres", "ticket"),
    ("PostgresDeadlocks", "postgres", "ticket"), ("PostgresLongRunningTransaction", "postgres", "ticket"),
    ("RedisDown", "redis", "page"), ("RedisMemoryHigh", "redis", "ticket"),
    ("RedisEvictions", "redis", "ticket"), ("RedisRejectedConnections", "redis", "ticket"),
    ("NodeFilesystemFillingUp", "node", "page"), ("NodeMemoryPressure", "node", "ticket"),
    ("ProbeFailing", "dashboard", "page"), ("ProbeFailing", "cms", "ticket"),
    ("TLSCertificateExpiring", "dashboard", "ticket"), ("TLSCertificateExpiring", "cms", "ticket"),
    ("PrometheusRuleEvaluationFailures", "prometheus", "page"), ("PrometheusNotificationsFailing", "prometheus", "page"),
    ("PrometheusConfigReloadFailed", "prometheus", "ticket"),
    ("AlertmanagerNotificationsFailing", "alertmanager", "page"), ("AlertmanagerConfigReloadFailed", "alertmanager", "ticket"),
    ("Watchdog", "prometheus", "info"),
}  # fmt: skip


def test_the_built_in_platform_gets_exactly_these_alerts(edu_out: Path) -> None:
    found = {
        (a["alert"], a["labels"]["service"], a["labels"]["severity"]) for a in alerts_of(edu_out, "prod")
    }
    assert found == EDU_ALERTS


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_has_severity_team_service_and_links_to_its_runbook_and_dashboard(
    edu_out: Path, env: str
) -> None:
    from edu_platform import platform

    teams = set(platform.team_names)
    for rule in alerts_of(edu_out, env):
        where = f"{env}: {rule['alert']} of {rule['labels'].get('service')}"
        assert rule["labels"]["severity"] in {s.value for s in Severity}, where
        assert rule["labels"]["team"] in teams, where
        assert rule["labels"]["service"], where
        ann = rule["annotations"]
        assert ann["summary"].strip() and ann["description"].strip(), where
        page = rule["alert"].lower() + (f"-{rule['labels']['slo']}" if "slo" in rule["labels"] else "")
        assert ann["runbook_url"] == f"https://runbooks.edu.example.org/{rule['labels']['service']}/{page}.html", where
        assert ann["dashboard_url"].startswith("https://grafana.edu.example.org/d/obs-"), where
        assert " " not in ann["dashboard_url"], where


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_is_tested_firing_with_exact_annotations_and_staying_silent(
    edu_out: Path, env: str
) -> None:
    tests_dir = edu_out / env / "prometheus" / "tests"
    fired: dict[str, int] = {}
    silent: dict[str, int] = {}
    for path in tests_dir.glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                target = fired if check["exp_alerts"] else silent
                target[check["alertname"]] = target.get(check["alertname"], 0) + 1
                for exp in check["exp_alerts"]:
                    assert set(exp["exp_annotations"]) == {
                        "summary",
                        "description",
                        "runbook_url",
                        "dashboard_url",
                    }
                    assert {"severity", "team", "service"} <= set(exp["exp_labels"])
                    assert "{{" not in exp["exp_annotations"]["summary"], (
                        "expected text is rendered, not a template"
                    )
    names = {a["alert"] for a in alerts_of(edu_out, env)}
    assert names <= set(fired), f"never tested firing: {names - set(fired)}"
    assert names <= set(silent), f"never tested silent: {names - set(silent)}"


# --- SLOs ---------------------------------------------------------------------------------------


def _records(out: Path, env: str, file: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name, rule in rules_of(out, env):
        if name == file and "record" in rule:
            found.setdefault(rule["record"], []).append(rule)
    return found


def test_sli_recordings_cover_every_alert_window_and_the_slo_window(edu_out: Path) -> None:
    records = _records(edu_out, "prod", "slo-backend-latency.yml")
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert f"slo:sli_error:ratio_rate{window}" in records
    for name in ("slo:sli_total:rate5m", "slo:sli_errors:rate5m", "slo:objective:ratio", "slo:error_budget:ratio",
                 "slo:time_period:days", "slo:period_error_budget_remaining:ratio"):  # fmt: skip
        assert name in records
    # Latency: the slow requests are all requests less those in the threshold's bucket.
    hour = records["slo:sli_error:ratio_rate1h"][0]
    assert 'le="0.3"' in hour["expr"] and hour["expr"].startswith("1 - sum(rate(")
    assert hour["labels"] == {"service": "backend", "team": "learning", "slo": "latency"}
    # A day and more: summed from the 5m slices, not read from the counters every evaluation.
    day = records["slo:sli_error:ratio_rate1d"][0]["expr"]
    assert day.startswith("sum_over_time(slo:sli_errors:rate5m{") and "[23h59m59s]" in day
    assert "http_server_request_duration" not in day


def test_the_long_windows_run_in_a_slower_group(edu_out: Path) -> None:
    text = (edu_out / "prod" / "prometheus" / "rules" / "slo-backend-availability.yml").read_text()
    groups = {g["name"]: g for g in yaml.safe_load(text)["groups"]}
    assert groups["edu-slo-long-backend-availability"]["interval"] == "2m"
    assert "interval" not in groups["edu-slo-sli-backend-availability"]
    long_rules = [r.get("record") or r.get("alert") for r in groups["edu-slo-long-backend-availability"]["rules"]]
    assert long_rules[:4] == [
        "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate30d", "slo:period_error_budget_remaining:ratio",
    ]  # fmt: skip
    # The ticket reads the 1d and 3d ratios: it is evaluated with them.
    assert long_rules[-1] == "ErrorBudgetBurn"


def test_excluded_routes_are_left_out_of_the_sli_they_are_excluded_from(edu_out: Path) -> None:
    latency = _records(edu_out, "prod", "slo-backend-latency.yml")["slo:sli_total:rate5m"][0]["expr"]
    availability = _records(edu_out, "prod", "slo-backend-availability.yml")["slo:sli_total:rate5m"][0][
        "expr"
    ]
    assert 'http_route!="/api/reports/export"' in latency
    assert "/api/reports/export" not in availability


def _burn_alerts(out: Path, service: str, slo: str) -> list[dict[str, Any]]:
    return [
        a
        for a in alerts_of(out, "prod")
        if a["alert"] == "ErrorBudgetBurn" and a["labels"]["service"] == service and a["labels"]["slo"] == slo
    ]


def test_each_severity_is_one_alert_joining_its_rows_without_a_for(edu_out: Path) -> None:
    ticket, page = _burn_alerts(edu_out, "backend", "availability")
    # The ticket is evaluated with the 1d and 3d ratios it reads, in the slow group before the page's.
    assert (page["labels"]["severity"], ticket["labels"]["severity"]) == ("page", "ticket")
    assert "for" not in page and "for" not in ticket
    assert page["keep_firing_for"] == ticket["keep_firing_for"] == "15m"
    fast, medium = page["expr"].split("\nor on (service, slo)\n")
    assert 'slo:sli_error:ratio_rate1h{service="backend", slo="availability"} / 0.001 > 14.4' in fast
    assert 'slo:sli_error:ratio_rate5m{service="backend", slo="availability"} / 0.001 > 14.4' in fast
    assert 'slo:sli_error:ratio_rate6h{service="backend", slo="availability"} / 0.001 > 6' in medium
    assert 'slo:sli_error:ratio_rate30m{service="backend", slo="availability"} / 0.001 > 6' in medium
    # The low-traffic guard: enough requests for a ratio, or three failed ones.
    assert 'avg_over_time(slo:sli_total:rate5m{service="backend", slo="availability"}[59m59s]) >= 0.1' in fast
    assert 'avg_over_time(slo:sli_errors:rate5m{service="backend", slo="availability"}[59m59s]) * 3600 > 2.5' in fast
    assert "ratio_rate1d" in ticket["expr"] and "ratio_rate3d" in ticket["expr"]
    assert page["labels"]["slo_window"] == "30d"
    assert page["annotations"]["dashboard_url"] == links.dashboard_url(
        "https://grafana.edu.example.org",
        links.SLO_UID,
        links.SLOPanel.BURN_RATE_WINDOWS,
        service="backend",
        slo="availability",
    )


def test_an_slo_with_page_false_only_opens_tickets(edu_out: Path) -> None:
    assert {a["labels"]["severity"] for a in _burn_alerts(edu_out, "bridge", "latency")} == {"ticket"}
    assert {a["labels"]["severity"] for a in _burn_alerts(edu_out, "bridge", "availability")} == {
        "page",
        "ticket",
    }


def test_a_28_day_slo_burns_at_13_44_and_5_6() -> None:
    files = render(small_platform(), ["prod"], ["prometheus", "rules"]).files
    text = files["prod/prometheus/rules/slo-shop-latency.yml"].decode()
    assert "> 13.44\n" in text and "> 5.6\n" in text and "> 2.8\n" in text and "> 0.933333\n" in text


def test_a_window_that_cannot_fire_even_at_100_percent_errors_is_left_out() -> None:
    from obs.model import SLO, AvailabilitySLI

    loose = small_platform(slos=(SLO("availability", AvailabilitySLI(), 0.9),))
    text = (
        render(loose, ["prod"], ["prometheus", "rules"])
        .files["prod/prometheus/rules/slo-shop-availability.yml"]
        .decode()
    )
    # A 10% budget burns at most 10x: the 14.4x window could never fire.
    assert "> 14.4" not in text and "> 6\n" in text


# --- bad input stops the build, nothing is written ----------------------------------------------


@pytest.mark.parametrize(
    ("slo_yaml", "message"),
    [
        (
            "{name: availability, sli: {type: availability}, objective: 1.0}",
            r"objective: 1\.0 must be between 0 and 1",
        ),
        (
            "{name: latency, sli: {type: latency, threshold_seconds: 0.33}, objective: 0.99}",
            r"threshold_seconds: 0\.33 is not a bucket boundary of http_server_request_duration_seconds \(choose one of",
        ),
        (
            "{name: availability, sli: {type: availability}, objective: 0.99, window: 2d}",
            r"window: 2d is shorter than the longest alert window \(3d\)",
        ),
    ],
)
def test_a_bad_slo_stops_the_build_naming_the_file_and_the_slo(
    tmp_path: Path, slo_yaml: str, message: str
) -> None:
    source = tmp_path / "platform.yaml"
    source.write_text(
        "name: school\nservices:\n  - {name: api, kind: fastapi, team: core, runbook_base_url: 'https://r.example.org/api', slos: ["
        + slo_yaml
        + "]}\n"
        "environments: [{name: prod}]\n"
    )
    with pytest.raises(
        ModelError, match=re.escape(f"{tmp_path}/platform.yaml: services[api].slos[") + ".*" + message
    ):
        build(load_platform(source), tmp_path / "out", groups=["prometheus", "rules"])
    assert not (tmp_path / "out").exists()


def test_a_platform_without_any_runbook_url_is_refused_with_the_fix() -> None:
    bare = small_platform(runbook_base_url="")
    with pytest.raises(
        ModelError,
        match=r"runbook_base_url: no runbook URL in the platform to derive one for 'shop' from \(set the platform's runbook_base_url",
    ):
        render(bare, ["prod"], ["prometheus", "rules"])


# --- custom alerts ------------------------------------------------------------------------------


def _plant(root: Path, name: str, expr: str, cases: str = "both") -> Platform:
    """A team's repository: ``alerts/<name>.py`` defining ``alerts(platform)``, and the shop
    platform naming that folder."""
    folder = root / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(
        "from alert_platforms import queue_alert\n\n\n"
        f"def alerts(platform):\n    return [queue_alert(platform, {expr!r}, {cases!r})]\n"
    )
    return small_platform(content={"alerts": ("alerts",)})


def test_a_custom_alert_gets_the_model_metadata_and_its_tests_are_rendered(tmp_path: Path) -> None:
    platform = _plant(tmp_path, "queue", 'rate(http_server_request_duration_seconds_count{service="shop"}[5m]) > 0')
    files = render(platform, ["prod"], ["prometheus", "rules"], root=tmp_path).files
    rule = next(
        r
        for g in yaml.safe_load(files["prod/prometheus/rules/custom.yml"])["groups"]
        for r in g["rules"]
        if r["alert"] == "SyncQueueSlow"
    )
    assert rule["labels"] == {"severity": "ticket", "service": "shop", "team": "core"}
    assert rule["annotations"]["runbook_url"] == "https://runbooks.example.org/shop/syncqueueslow.html"
    assert (
        rule["annotations"]["dashboard_url"]
        == "https://grafana.example.org/d/obs-svc-shop?viewPanel=4&var-service=shop"
    )
    tests = yaml.safe_load(files["prod/prometheus/tests/custom.test.yml"])["tests"]
    assert [t["name"] for t in tests] == ["SyncQueueSlow [shop]: fires", "SyncQueueSlow [shop]: quiet"]
    # Only the platform's own alerts: none of the built-in platform's.
    groups = [g["name"] for g in yaml.safe_load(files["prod/prometheus/rules/custom.yml"])["groups"]]
    assert groups == ["shop-custom-queue"]


def test_a_platform_that_names_no_alerts_gets_the_catalogue_only() -> None:
    files = render(small_platform(), ["prod"], ["prometheus", "rules"]).files
    assert "prod/prometheus/rules/custom.yml" not in files
    assert not [f for f in files if "handwritten" in f]


@pytest.mark.parametrize(
    ("expr", "cases", "error", "message"),
    [
        (
            "rate(http_requests_total[5m]) > 0",
            "both",
            PromQLError,
            r"alerts/queue\.py: alert SyncQueueSlow: unknown metric 'http_requests_total'",
        ),
        (
            "rate(http_server_request_duration_seconds_count[5m] > 0",
            "both",
            PromQLError,
            r"alerts/queue\.py: alert SyncQueueSlow: does not parse",
        ),
        ("up > 0", "only-quiet", ModelError, r"alerts/queue\.py: alert SyncQueueSlow: has no test case where it fires"),
        ("up > 0", "only-fires", ModelError, r"alerts/queue\.py: alert SyncQueueSlow: has no test case where it must stay silent"),
    ],
)
def test_a_broken_custom_alert_stops_the_build_naming_its_file(
    tmp_path: Path, expr: str, cases: str, error: type[Exception], message: str
) -> None:
    platform = _plant(tmp_path, "queue", expr, cases)
    with pytest.raises(error, match=message):
        build(platform, tmp_path / "out", groups=["prometheus", "rules"], root=tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not available("promtool"), reason="promtool not installed")
def test_a_function_this_prometheus_lacks_builds_and_obs_check_refuses_it_in_promtools_words(tmp_path: Path) -> None:
    # The PromQL parser knows mad_over_time; Prometheus 2.42 does not. The build is the same on any
    # machine; promtool judges in `obs check`.
    platform = _plant(tmp_path, "queue", 'mad_over_time(http_server_request_duration_seconds_count{service="shop"}[5m]) > 0')
    build(platform, tmp_path / "out", ["prod"], ["prometheus", "rules"], root=tmp_path)
    outcomes = {o.name: o for o in rules_checks.check(tmp_path / "out" / "prod")}
    outcome = outcomes["promtool check rules prometheus/rules/custom.yml"]
    assert outcome.status == "failed"
    assert 'unknown function with name "mad_over_time"' in outcome.detail


def test_a_module_in_alerts_without_an_alerts_function_is_refused(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "empty.py").write_text("X = 1\n")
    platform = small_platform(content={"alerts": ("alerts",)})
    with pytest.raises(ModelError, match=r"alerts/empty\.py: defines no alerts\(platform\) function"):
        render(platform, ["prod"], ["prometheus", "rules"], root=tmp_path)


def test_the_hand_written_tests_are_shipped_with_the_platform_that_names_them(edu_out: Path) -> None:
    assert (edu_out / "prod" / "prometheus" / "tests" / "handwritten" / "high_error_rate.test.yml").exists()
