"""The model's alerting fields reach what on-call gets: the runbook base, the alert-log webhook, the
infra team and each team's chat webhook file, read from the rendered files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_platforms import small_platform

from obs.builder import render
from obs.checks import alertmanager as alertmanager_checks
from obs.model import DEFAULT_ALERT_WEBHOOK_URL, Platform, Service, ServiceKind, Team
from obs.renderers import alertmanager
from obs.tools import available

amtool = pytest.mark.skipif(not available("amtool"), reason="amtool not installed")
GROUPS = ["prometheus", "rules", "alertmanager"]


def ops_platform(**fields: Any) -> Platform:
    """The small shop platform plus two probed sites, with its shared jobs run by an ``ops`` team."""
    shop = small_platform()
    sites = (
        Service(name, ServiceKind.STATIC_SITE, "core", probe_url=f"https://{name}.example.org/")
        for name in ("site", "docs")
    )
    changes: dict[str, Any] = {
        "services": (*shop.services, *sites),
        "teams": (*shop.teams, Team("ops", chat_channel="#ops", pager_key_file="/run/secrets/ops-pager")),
        "infra_team": "ops",
        "runbook_base_url": "https://wiki.example.org/runbooks",
        "alert_webhook_url": "https://tickets.example.org/hooks/alertmanager",
        **fields,
    }
    return dataclasses.replace(shop, **changes)


def rendered(platform: Platform, path: str, env: str = "prod") -> Any:
    files = render(platform, [env], GROUPS).files
    return yaml.safe_load(files[f"{env}/{path}"])


def alerts_of(platform: Platform, rule_file: str) -> list[dict[str, Any]]:
    groups = rendered(platform, f"prometheus/rules/{rule_file}.yml")["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


# --- infra_team ------------------------------------------------------------------------------------


def test_the_shared_scrape_jobs_belong_to_the_infra_team() -> None:
    jobs = {j["job_name"]: j for j in rendered(ops_platform(), "prometheus/prometheus.yml")["scrape_configs"]}
    for name in ("node", "prometheus", "alertmanager"):
        assert jobs[name]["static_configs"][0]["labels"]["team"] == "ops", name
    # The probed targets keep their owners' team; only alerts about the probe job as a whole are ops'.
    assert jobs["blackbox-http"]["static_configs"][0]["labels"]["team"] == "core"
    assert jobs["shop"]["static_configs"][0]["labels"]["team"] == "core"


@pytest.mark.parametrize(
    ("rule_file", "alertname", "service"),
    [
        ("node", "NodeFilesystemFillingUp", "node"),
        ("self-monitoring", "PrometheusNotificationsFailing", "prometheus"),
        ("self-monitoring", "AlertmanagerNotificationsFailing", "alertmanager"),
        ("targets", "TargetDown", "blackbox-http"),
    ],
)
def test_alerts_about_shared_infrastructure_go_to_the_infra_team(
    rule_file: str, alertname: str, service: str
) -> None:
    (alert,) = [
        a
        for a in alerts_of(ops_platform(), rule_file)
        if a["alert"] == alertname and a["labels"]["service"] == service
    ]
    assert alert["labels"]["team"] == "ops"


def test_the_infra_teams_pages_reach_its_pager_in_the_route_cases() -> None:
    cases = rendered(ops_platform(), "alertmanager/routes-test.yml")["cases"]
    case = next(c for c in cases if c["name"] == "NodeFilesystemFillingUp of node (page)")
    assert case["receivers"] == ["alert-log", "ops-pager", "ops-chat"]


# --- runbook_base_url ------------------------------------------------------------------------------


def test_components_without_a_runbook_link_under_the_platform_runbook_base() -> None:
    urls = {
        (a["alert"], a["labels"]["service"]): a["annotations"]["runbook_url"]
        for f in ("node", "probes", "self-monitoring")
        for a in alerts_of(ops_platform(), f)
    }
    assert (
        urls[("NodeFilesystemFillingUp", "node")]
        == "https://wiki.example.org/runbooks/node/nodefilesystemfillingup.html"
    )
    assert urls[("ProbeFailing", "site")] == "https://wiki.example.org/runbooks/site/probefailing.html"
    assert (
        urls[("PrometheusRuleEvaluationFailures", "prometheus")]
        == "https://wiki.example.org/runbooks/prometheus/prometheusruleevaluationfailures.html"
    )


def test_a_components_own_runbook_url_wins_over_the_platform_base() -> None:
    (alert,) = [a for a in alerts_of(ops_platform(), "services") if a["alert"] == "LatencyP99High"]
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.org/shop/latencyp99high.html"


def test_the_platform_runbook_base_alone_is_enough() -> None:
    bare = ops_platform(services=(dataclasses.replace(small_platform().services[0], runbook_base_url=""),))
    (alert,) = [a for a in alerts_of(bare, "services") if a["alert"] == "LatencyP99High"]
    assert alert["annotations"]["runbook_url"] == "https://wiki.example.org/runbooks/shop/latencyp99high.html"


def test_without_a_platform_runbook_base_the_origin_of_the_components_runbooks_is_used() -> None:
    (alert,) = [a for a in alerts_of(small_platform(), "node") if a["alert"] == "NodeFilesystemFillingUp"]
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.org/node/nodefilesystemfillingup.html"


# --- alert_webhook_url and chat_webhook_url_file ---------------------------------------------------


def receivers(platform: Platform, env: str = "prod") -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in alertmanager.config(platform, platform.environment(env))["receivers"]}


def test_every_alert_reaches_the_platforms_alert_webhook() -> None:
    config = alertmanager.config(ops_platform(), ops_platform().environment("prod"))
    assert config["route"]["routes"][0] == {"receiver": "alert-log", "continue": True}
    assert receivers(ops_platform())["alert-log"]["webhook_configs"] == [
        {"url": "https://tickets.example.org/hooks/alertmanager", "send_resolved": True}
    ]


def test_the_alert_webhook_defaults_to_the_alert_log_service() -> None:
    assert (
        receivers(small_platform())["alert-log"]["webhook_configs"][0]["url"]
        == DEFAULT_ALERT_WEBHOOK_URL
        == "http://alert-log:9095/alerts"
    )


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_a_teams_chat_webhook_file_is_what_its_slack_receiver_reads(env: str) -> None:
    ops = Team("ops", chat_channel="#ops", chat_webhook_url_file="/vault/ops/slack-webhook")
    platform = ops_platform(teams=(*small_platform().teams, ops))
    (slack,) = receivers(platform, env)["ops-chat"]["slack_configs"]
    assert slack["api_url_file"] == "/vault/ops/slack-webhook"
    assert slack["channel"] == "#ops"


def test_without_a_chat_webhook_file_the_slack_url_is_read_beside_the_pager_key() -> None:
    (slack,) = receivers(ops_platform())["ops-chat"]["slack_configs"]
    assert slack["api_url_file"] == "/run/secrets/ops-slack-api-url"


@amtool
def test_amtool_accepts_the_configuration_with_every_alerting_field_set(tmp_path: Path) -> None:
    ops = Team(
        "ops",
        chat_channel="#ops",
        pager_key_file="/run/secrets/ops-pager",
        chat_webhook_url_file="/vault/ops/slack-webhook",
    )
    platform = ops_platform(teams=(*small_platform().teams, ops))
    for rel, data in render(platform, None, GROUPS).files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    for env in ("prod", "dev"):
        outcomes = list(alertmanager_checks.check(tmp_path / env)) + list(alertmanager_checks.test(tmp_path / env))
        assert [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"] == []
