"""Alertmanager: who is told, who is not, and with which secrets, checked by the real amtool."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_platforms import small_platform

from edu_platform import platform as edu
from obs.builder import render
from obs.checks import alertmanager as alertmanager_checks
from obs.inhibition import inhibitions, upstream
from obs.model import Environment
from obs.renderers import alertmanager
from obs.tools import available

amtool = pytest.mark.skipif(not available("amtool"), reason="amtool not installed")
SECRETS = edu.teams[0].pager_key_file.rpartition("/")[0]
ENVS = ["prod", "staging", "dev"]


def config_of(out: Path, env: str) -> dict[str, Any]:
    return yaml.safe_load((out / env / "alertmanager" / "alertmanager.yml").read_text())


@pytest.mark.parametrize("env", ENVS)
def test_the_configuration_and_its_route_cases_match_the_golden_files(
    edu_out: Path, env: str, golden: Callable[[str, bytes], None]
) -> None:
    for name in ("alertmanager.yml", "routes-test.yml", "templates-test.yml"):
        golden(f"alertmanager/{env}/{name}", (edu_out / env / "alertmanager" / name).read_bytes())


def test_secrets_are_file_references_never_literal(edu_out: Path) -> None:
    text = (edu_out / "prod" / "alertmanager" / "alertmanager.yml").read_text()
    receivers = {r["name"]: r for r in config_of(edu_out, "prod")["receivers"]}
    pager = receivers["learning-pager"]["pagerduty_configs"][0]
    assert pager["routing_key_file"] == f"{SECRETS}/learning-pager-key"
    chat = receivers["learning-chat"]["slack_configs"][0]
    assert chat["api_url_file"] == f"{SECRETS}/learning-slack-api-url"
    assert chat["channel"] == "#edu-learning"
    for literal in ("routing_key:", "service_key:", "api_url:", "hooks.slack.com"):
        assert literal not in text


@pytest.mark.parametrize(("env", "pagers"), [("prod", 4), ("staging", 0), ("dev", 0)])
def test_only_environments_that_page_have_pager_receivers(edu_out: Path, env: str, pagers: int) -> None:
    receivers = config_of(edu_out, env)["receivers"]
    assert sum("pagerduty_configs" in r for r in receivers) == pagers


@pytest.mark.parametrize(
    ("env", "severity", "expected"),
    [
        ("prod", "page", ["alert-log", "learning-pager", "learning-chat"]),
        ("prod", "ticket", ["alert-log", "learning-chat"]),
        ("prod", "info", ["alert-log"]),
        ("dev", "page", ["alert-log", "learning-chat"]),
        ("dev", "ticket", ["alert-log", "learning-chat"]),
    ],
)
def test_the_route_cases_say_where_each_severity_goes(
    edu_out: Path, env: str, severity: str, expected: list[str]
) -> None:
    cases = yaml.safe_load((edu_out / env / "alertmanager" / "routes-test.yml").read_text())["cases"]
    case = next(c for c in cases if c["name"] == f"{severity} for team learning")
    assert case["receivers"] == expected


def test_every_alert_of_the_build_has_a_route_case(edu_out: Path) -> None:
    cases = yaml.safe_load((edu_out / "prod" / "alertmanager" / "routes-test.yml").read_text())["cases"]
    names = {c["labels"].get("alertname") for c in cases}
    assert {
        "ErrorBudgetBurn",
        "HighErrorRate",
        "PostgresDown",
        "TargetDown",
        "ProbeFailing",
        "NodeFilesystemFillingUp",
    } <= names
    postgres_down = next(c for c in cases if c["name"] == "PostgresDown of postgres (page)")
    assert postgres_down["receivers"] == ["alert-log", "platform-pager", "platform-chat"]


def test_a_page_inhibits_the_ticket_of_the_same_alert_and_service(edu_out: Path) -> None:
    rules = config_of(edu_out, "prod")["inhibit_rules"]
    assert rules[0] == {
        "source_matchers": ['severity="page"'],
        "target_matchers": ['severity="ticket"'],
        "equal": ["alertname", "service", "slo", "environment"],
    }


@pytest.mark.parametrize(
    ("causes", "dependency", "service"),
    [
        ('alertname=~"PostgresDown|RecentOutage"', "postgres", "backend"),
        ('alertname=~"RedisDown|RecentOutage"', "redis", "backend"),
        ('alertname=~"RedisDown|RecentOutage"', "redis", "bridge"),
        # A dead backend pages its owner; the bridge's errors and burn are the backend's.
        ('alertname=~"ServiceDown|RecentOutage"', "backend", "bridge"),
        # Through the services in between: the bridge calls the backend, which needs PostgreSQL.
        ('alertname=~"PostgresDown|RecentOutage"', "postgres", "bridge"),
    ],
)
def test_an_outage_inhibits_the_symptoms_of_the_services_that_depend_on_it(
    edu_out: Path, causes: str, dependency: str, service: str
) -> None:
    rules = config_of(edu_out, "prod")["inhibit_rules"]
    assert {
        "source_matchers": [causes, f'service="{dependency}"'],
        "target_matchers": ['alertname=~"HighErrorRate|LatencyP99High|ErrorBudgetBurn"', f'service="{service}"'],
        "equal": ["environment"],
    } in rules


def test_no_inhibition_where_there_is_no_dependency(edu_out: Path) -> None:
    rules = config_of(edu_out, "prod")["inhibit_rules"]
    # The CMS depends on nothing of the platform, the backend on no other service: their errors
    # are never hidden by another component's outage, nor by their own.
    assert not [r for r in rules[1:] if 'service="cms"' in r["target_matchers"]]
    assert not [
        r
        for r in rules[1:]
        if 'service="backend"' in r["target_matchers"] and 'service="backend"' in r["source_matchers"]
    ]


@pytest.mark.parametrize(
    ("depends_on", "expected"),
    [
        ({"a": ("b",), "b": ("c",), "c": ()}, {"a": ["b", "c"], "b": ["c"], "c": []}),
        ({"a": ("b", "db"), "b": ("db", "a"), "c": ()}, {"a": ["b", "db"], "b": ["db", "a"], "c": []}),  # a cycle ends
    ],
)
def test_upstream_follows_services_transitively_and_stops_at_cycles(
    depends_on: dict[str, tuple[str, ...]], expected: dict[str, list[str]]
) -> None:
    platform = dataclasses.replace(
        edu,
        services=tuple(dataclasses.replace(edu.services[0], name=n, depends_on=d) for n, d in depends_on.items()),
        dependencies=(dataclasses.replace(edu.dependencies[0], name="db"),),
        environments=(Environment("prod"),),
    )
    assert {s.name: upstream(platform, s) for s in platform.services} == expected


def test_the_symptom_alerts_inhibited_exist_in_the_rules(edu_out: Path) -> None:
    text = "".join(p.read_text() for p in (edu_out / "prod" / "prometheus" / "rules").glob("*.yml"))
    for inhibition in inhibitions(edu):
        for name in (*inhibition.sources, *inhibition.targets):
            assert f"alert: {name}\n" in text, name


def test_a_team_without_pager_key_or_channel_falls_back_to_the_log() -> None:
    from obs.model import Team

    team = Team("quiet")
    env = Environment("prod")
    assert alertmanager.receivers_for(team, env, alertmanager.Severity.PAGE) == ["alert-log"]


@amtool
@pytest.mark.parametrize("env", ENVS)
def test_amtool_accepts_the_configuration_and_every_route_case(edu_out: Path, env: str) -> None:
    outcomes = list(alertmanager_checks.check(edu_out / env)) + list(alertmanager_checks.test(edu_out / env))
    assert len(outcomes) > 50
    assert [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"] == []


@amtool
def test_a_small_platform_routes_as_its_model_says(tmp_path: Path) -> None:
    files = render(small_platform(), groups=["prometheus", "rules", "alertmanager"]).files
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    for env in ("prod", "dev"):
        outcomes = list(alertmanager_checks.check(tmp_path / env)) + list(alertmanager_checks.test(tmp_path / env))
        assert [o.name for o in outcomes if o.status != "passed"] == []


@amtool
def test_a_wrong_expected_receiver_fails_the_route_test(edu_out: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "prod"
    shutil.copytree(edu_out / "prod", env_dir)
    path = env_dir / "alertmanager" / "routes-test.yml"
    data = yaml.safe_load(path.read_text())
    data["cases"] = [
        {
            "name": "page reaches only chat",
            "labels": {"team": "learning", "severity": "page"},
            "receivers": ["alert-log", "learning-chat"],
        }
    ]
    path.write_text(yaml.safe_dump(data))
    (tmp := env_dir / alertmanager.TEMPLATES_TEST_PATH).unlink()
    assert not tmp.exists()
    (outcome,) = alertmanager_checks.test(env_dir)
    assert outcome.status == "failed"
    assert "alert-log,learning-pager,learning-chat" in outcome.detail


@amtool
def test_amtool_rejects_a_broken_configuration_with_its_own_message(edu_out: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "prod"
    shutil.copytree(edu_out / "prod", env_dir)
    path = env_dir / "alertmanager" / "alertmanager.yml"
    path.write_text(path.read_text().replace("receiver: learning-chat", "receiver: learning-chats"))
    (outcome,) = alertmanager_checks.check(env_dir)
    assert outcome.status == "failed"
    assert 'undefined receiver "learning-chats"' in outcome.detail


def test_the_watchdog_pings_the_heartbeat_every_minute_and_reaches_no_one_else(edu_out: Path) -> None:
    """The dead man's switch: when the pings stop, the outside service pages. It must come first
    and stop there, or the always-firing alert would fill the log and the teams' channels."""
    from edu_platform import platform as edu

    config = config_of(edu_out, "prod")
    first = config["route"]["routes"][0]
    assert first == {
        "receiver": alertmanager.HEARTBEAT_RECEIVER,
        "matchers": ['alertname="Watchdog"'],
        "group_by": ["alertname"],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "1m",
    }
    (heartbeat,) = [r for r in config["receivers"] if r["name"] == alertmanager.HEARTBEAT_RECEIVER]
    assert heartbeat["webhook_configs"] == [{"url": edu.heartbeat_url, "send_resolved": False}]
    cases = yaml.safe_load((edu_out / "prod" / alertmanager.ROUTES_TEST_PATH).read_text())["cases"]
    (watchdog,) = [c for c in cases if c["labels"]["alertname"] == "Watchdog"]
    assert watchdog["receivers"] == [alertmanager.HEARTBEAT_RECEIVER]


def test_without_a_heartbeat_url_there_is_no_watchdog() -> None:
    files = render(small_platform(), groups=["rules", "alertmanager"]).files
    config = yaml.safe_load(files["prod/alertmanager/alertmanager.yml"])
    assert alertmanager.HEARTBEAT_RECEIVER not in {r["name"] for r in config["receivers"]}
    assert not any(b"Watchdog" in data for data in files.values())


def _grouped_page(common: dict[str, str]) -> dict[str, Any]:
    """Alertmanager's notification data for two ErrorBudgetBurn alerts (1h and 6h) grouped together."""

    def alert(summary: str, dashboard: str, fingerprint: str) -> dict[str, Any]:
        return {
            "status": "firing", "labels": {"alertname": "ErrorBudgetBurn", "service": "backend", "severity": "page"},
            "annotations": {"summary": summary, "runbook_url": "https://rb/backend/errorbudgetburn-availability.html", "dashboard_url": dashboard},
            "startsAt": "2026-11-27T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint,
        }  # fmt: skip

    return {
        "receiver": "learning-pager", "status": "firing",
        "alerts": [alert("burning 15.2x", "https://g/d/1", "a"), alert("burning 6.4x", "https://g/d/2", "b")],
        "groupLabels": {"alertname": "ErrorBudgetBurn"},
        "commonLabels": {"alertname": "ErrorBudgetBurn", "service": "backend", "severity": "page"},
        "commonAnnotations": common, "externalURL": "http://am", "version": "4", "groupKey": "k", "truncatedAlerts": 0,
    }  # fmt: skip


@amtool
@pytest.mark.parametrize(
    ("common", "summary", "dashboard"),
    [
        ({"runbook_url": "https://rb/backend/errorbudgetburn-availability.html"}, "burning 15.2x (first of 2 alerts)", "https://g/d/1"),
        (
            {"summary": "burning", "runbook_url": "https://rb/backend/errorbudgetburn-availability.html", "dashboard_url": "https://g/d/0"},
            "burning",
            "https://g/d/0",
        ),
    ],
)
def test_a_page_of_grouped_alerts_that_differ_still_says_what_and_where(
    edu_out: Path, tmp_path: Path, common: dict[str, str], summary: str, dashboard: str
) -> None:
    """Grouped alerts with different summaries have no common one: the page falls back to the
    first alert's instead of arriving blank (rendered by amtool, as Alertmanager would)."""
    import json
    import subprocess

    (pager,) = [r for r in config_of(edu_out, "prod")["receivers"] if r["name"] == "learning-pager"]
    pd = pager["pagerduty_configs"][0]
    (tmp_path / "none.tmpl").write_text('{{ define "none" }}{{ end }}')
    (tmp_path / "data.json").write_text(json.dumps(_grouped_page(common)))

    def render(text: str) -> str:
        done = subprocess.run(
            ["amtool", "template", "render", f"--template.glob={tmp_path / 'none.tmpl'}",
             f"--template.data={tmp_path / 'data.json'}", f"--template.text={text}"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert render(pd["description"]) == f"ErrorBudgetBurn backend: {summary}"
    assert render(pd["details"]["runbook_url"]) == "https://rb/backend/errorbudgetburn-availability.html"
    assert render(pd["details"]["dashboard_url"]) == dashboard
    assert render(pd["details"]["summaries"]) == "burning 15.2x; burning 6.4x;"
