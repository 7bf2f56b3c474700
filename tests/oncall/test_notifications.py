"""Notifications people can act on, judged by the real Alertmanager (``obs.runtime``) with the
rendered configurations: the audit trail gets every alert, inhibited or not; an alert that ends
while inhibited is never delivered afterwards; the message templates say what, where, how urgent
and how many, rendered by ``amtool template render``; e-mail and webhook receivers; severity names
of the model's scheme.

Only the integrations and the timings are changed in the real-server tests: every receiver becomes
a webhook to a local sink under its own name (no PagerDuty, Slack or SMTP here), and Alertmanager
groups and waits in seconds. Routes and inhibitions are the rendered ones.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu
from obs.alerting import Severity
from obs.builder import render
from obs.checks import alertmanager as checks
from obs.model import Platform, Team
from obs.renderers import alertmanager
from obs.runtime import AlertmanagerAPI, Supervisor, WebhookSink, available, start_alertmanager
from obs.tools import available as tool_available
from obs.writer import dump_yaml
from tests.alerts.alert_platforms import small_platform
from tests.oncall.sinks import to_sink

amtool = pytest.mark.skipif(not tool_available("amtool"), reason="amtool not installed")
AUDITED = dataclasses.replace(edu, audit_alertmanager_url="http://alertmanager-audit:9093")


# --- the configurations ---------------------------------------------------------------------------


def test_with_an_audit_alertmanager_the_team_one_sends_nothing_to_the_audit_webhook() -> None:
    env = AUDITED.environment("prod")
    team = alertmanager.config(AUDITED, env)
    assert team["route"]["receiver"] == alertmanager.NOBODY
    assert alertmanager.LOG_RECEIVER not in {r["name"] for r in team["receivers"]}
    audit = alertmanager.audit_config(AUDITED, env)
    assert "inhibit_rules" not in audit
    assert audit["route"]["group_by"] == ["..."] and audit["route"]["group_wait"] == "0s"
    assert audit["receivers"][0] == {"name": "alert-log", "webhook_configs": [{"url": edu.alert_webhook_url, "send_resolved": True}]}
    assert alertmanager.alertmanager_targets(AUDITED) == [edu.alertmanager_url, "http://alertmanager-audit:9093"]


@amtool
def test_amtool_accepts_both_configurations_and_routes_every_alert_to_the_audit_trail(tmp_path: Path) -> None:
    files = render(AUDITED, ["prod"], ["prometheus", "rules", "alertmanager"]).files
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    outcomes = list(checks.check(tmp_path / "prod")) + list(checks.test(tmp_path / "prod"))
    assert {o.name for o in outcomes} >= {"amtool check-config alertmanager/alertmanager.yml", "amtool check-config alertmanager/audit.yml"}
    assert any(o.name.endswith("in the audit trail") for o in outcomes)
    assert [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"] == []


def _mailing() -> Platform:
    shop = small_platform()
    team = dataclasses.replace(shop.teams[0], email="core-oncall@example.org", webhook_url="https://incidents.example.org/hooks/am")
    return dataclasses.replace(
        shop, teams=(team,), smtp_smarthost="smtp.example.org:587", smtp_from="alertmanager@example.org",
        smtp_auth_username="alertmanager", smtp_auth_password_file="/run/secrets/smtp-password",
    )  # fmt: skip


def test_email_and_webhook_receivers_get_the_teams_pages_and_tickets() -> None:
    platform = _mailing()
    env = platform.environment("prod")
    config = alertmanager.config(platform, env)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["core-email"]["email_configs"] == [
        {"to": "core-oncall@example.org", "send_resolved": True, "headers": {"Subject": alertmanager.EMAIL_SUBJECT}}
    ]
    assert receivers["core-webhook"]["webhook_configs"] == [{"url": "https://incidents.example.org/hooks/am", "send_resolved": True}]
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/smtp-password"
    team = platform.teams[0]
    assert alertmanager.receivers_for(team, env, Severity.PAGE, platform) == ["alert-log", "core-pager", "core-chat", "core-email", "core-webhook"]
    assert alertmanager.receivers_for(team, env, Severity.TICKET, platform) == ["alert-log", "core-chat", "core-email", "core-webhook"]


@amtool
def test_amtool_routes_pages_and_tickets_to_mail_and_webhook(tmp_path: Path) -> None:
    files = render(_mailing(), ["prod"], ["prometheus", "rules", "alertmanager"]).files
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    outcomes = list(checks.check(tmp_path / "prod")) + list(checks.test(tmp_path / "prod"))
    assert [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"] == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "oncall", "teams[core].email: 'oncall' is not an e-mail address"),
        ("webhook_url", "https://bot:secret@hooks.example.org/", "teams[core].webhook_url: holds credentials"),
    ],
)
def test_a_bad_receiver_address_is_refused_naming_the_field(field: str, value: str, message: str) -> None:
    from obs.errors import ModelError

    with pytest.raises(ModelError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Team("core", **{field: value})


def test_mail_needs_a_server_and_a_sender() -> None:
    from obs.errors import ModelError

    shop = small_platform()
    team = dataclasses.replace(shop.teams[0], email="core@example.org")
    with pytest.raises(ModelError) as err:
        dataclasses.replace(shop, teams=(team,))
    assert "smtp_smarthost: teams core are mailed, but smtp_smarthost is empty" in str(err.value)
    assert "smtp_from: teams core are mailed, but smtp_from is empty" in str(err.value)


# --- severity names -------------------------------------------------------------------------------


def test_kube_prometheus_severity_names_reach_the_rules_the_routes_and_the_inhibitions() -> None:
    platform = dataclasses.replace(small_platform(), severity_scheme="kube-prometheus")
    files = render(platform, ["prod"], ["prometheus", "rules", "alertmanager"]).files
    rules = files["prod/prometheus/rules/slo-shop-availability.yml"].decode()
    assert "severity: critical" in rules and "severity: warning" in rules and "severity: page" not in rules
    config = yaml.safe_load(files["prod/alertmanager/alertmanager.yml"])
    assert config["inhibit_rules"][0]["source_matchers"] == ['severity="critical"']
    assert config["inhibit_rules"][0]["target_matchers"] == ['severity="warning"']
    matchers = [m for r in config["route"]["routes"] for m in r.get("matchers", [])]
    assert 'severity="critical"' in matchers and 'severity=~"critical|warning"' in matchers
    tests = files["prod/prometheus/tests/slo-shop-availability.test.yml"].decode()
    assert "severity: critical" in tests


def test_an_unknown_severity_scheme_is_refused() -> None:
    from obs.errors import ModelError

    with pytest.raises(ModelError, match="severity_scheme: 'pagerduty' is not a severity scheme"):
        dataclasses.replace(small_platform(), severity_scheme="pagerduty")


# --- templates ------------------------------------------------------------------------------------


@amtool
def test_every_template_renders_for_a_firing_a_resolved_and_a_grouped_notification(tmp_path: Path) -> None:
    files = render(edu, ["prod"], ["prometheus", "rules", "alertmanager"]).files
    cases = yaml.safe_load(files["prod/alertmanager/templates-test.yml"])["cases"]
    assert {c["name"].rsplit(": ", 1)[1] for c in cases} == {"firing", "resolved", "grouped"}
    assert {c["name"].rsplit(": ", 1)[0] for c in cases} >= {"chat title", "chat text", "pager description", "email subject"}
    results = {}
    for case in cases:
        ok, text = checks.render_template(case["template"], case["data"], tmp_path)
        assert ok, f"{case['name']}: {text}"
        results[case["name"]] = text
        assert [t for t in case["contains"] if t not in text] == [], f"{case['name']}: {text}"
    assert results["chat title: firing"] == "[FIRING:1] ErrorBudgetBurn backend (page)"
    assert results["chat title: resolved"] == "[RESOLVED] ErrorBudgetBurn backend (page)"
    assert results["chat title: grouped"] == "[FIRING:2] ErrorBudgetBurn backend (page)"
    assert f"2 firing, 1 resolved | <{edu.environment('prod').alertmanager_url or edu.alertmanager_url}|Alertmanager>" in results["chat text: grouped"]


@amtool
def test_a_template_that_reads_a_missing_field_fails_the_check(tmp_path: Path) -> None:
    files = render(edu, ["prod"], ["prometheus", "rules", "alertmanager"]).files
    case = yaml.safe_load(files["prod/alertmanager/templates-test.yml"])["cases"][0]
    ok, text = checks.render_template(case["template"].replace(".CommonLabels", ".CommonLables"), case["data"], tmp_path)
    assert not ok and "can't evaluate field CommonLables" in text


# --- the real Alertmanager ------------------------------------------------------------------------


@dataclasses.dataclass
class Pair:
    team: AlertmanagerAPI
    audit: AlertmanagerAPI
    sink: WebhookSink

    def post(self, *alerts: dict[str, Any]) -> None:
        """As Prometheus does, to both Alertmanagers."""
        import json
        import urllib.request

        for api in (self.team, self.audit):
            request = urllib.request.Request(
                f"{api.base_url}/api/v2/alerts", data=json.dumps(list(alerts)).encode(), headers={"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200

    def delivered(self, receiver: str, alertname: str) -> list[str]:
        return [a["status"] for n in self.sink.received(receiver=receiver) for a in n.alerts if a["labels"]["alertname"] == alertname]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    env = AUDITED.environment("prod")
    sink = WebhookSink()
    try:
        with Supervisor(tmp_path / "run") as sup:
            servers = []
            for name, config in (("team", alertmanager.config(AUDITED, env)), ("audit", alertmanager.audit_config(AUDITED, env))):
                path = tmp_path / f"{name}.yml"
                path.write_text(dump_yaml(to_sink(config, sink)))
                servers.append(start_alertmanager(sup, path, name=f"alertmanager-{name}", log_level="warn"))
            yield Pair(AlertmanagerAPI(servers[0].url), AlertmanagerAPI(servers[1].url), sink)
    finally:
        sink.close()


def _alert(name: str, service: str, team: str, severity: str, *, ends: float | None = None, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    end = now + timedelta(seconds=ends) if ends is not None else now + timedelta(minutes=10)
    return {
        "labels": {"alertname": name, "service": service, "team": team, "severity": severity, "environment": "prod", **labels},
        "annotations": {"summary": f"{name} of {service}"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": end.isoformat(),
    }


def _settle(seconds: float = 3.0) -> None:
    time.sleep(seconds)  # several group intervals of 1s: anything due has been sent


@pytest.mark.slow
@pytest.mark.skipif(not available("prometheus-alertmanager"), reason="Alertmanager not installed")
def test_an_alert_that_ends_while_inhibited_is_never_delivered_and_the_audit_trail_has_it(pair: Pair) -> None:
    cause = _alert("RedisDown", "redis", "platform", "page")
    hold = _alert("RecentOutage", "redis", "platform", "info")
    symptom = _alert("HighErrorRate", "backend", "learning", "ticket")
    pair.post(cause, hold)
    pair.sink.wait_for(lambda ns: any(n.receiver == "platform-pager" for n in ns), timeout=15)
    pair.post(symptom)
    _settle()
    held = [a for a in pair.team.alerts() if a.labels["alertname"] == "HighErrorRate"]
    assert held and held[0].inhibited_by, "the team Alertmanager inhibits the symptom"
    # Redis is back: RedisDown resolves, but the backend's 5m window still holds the outage.
    pair.post(_alert("RedisDown", "redis", "platform", "page", ends=0))
    _settle()
    assert pair.delivered("learning-chat", "HighErrorRate") == []
    # The symptom ends while the hold still inhibits it; then the hold ends.
    pair.post(_alert("HighErrorRate", "backend", "learning", "ticket", ends=0))
    _settle()
    pair.post(_alert("RecentOutage", "redis", "platform", "info", ends=0))
    _settle(4)
    assert pair.delivered("learning-chat", "HighErrorRate") == []
    assert "resolved" in pair.delivered("platform-chat", "RedisDown")
    # The audit trail has everything, the inhibited symptom included, firing and resolved.
    assert pair.delivered("alert-log", "HighErrorRate") == ["firing", "resolved"]
    assert set(pair.delivered("alert-log", "RecentOutage")) == {"firing", "resolved"}


@pytest.mark.slow
@pytest.mark.skipif(not available("prometheus-alertmanager"), reason="Alertmanager not installed")
def test_without_the_hold_the_symptom_arrives_after_the_fix(pair: Pair) -> None:
    """What the hold is for: the same outage with no RecentOutage delivers the symptom once the
    cause resolves, while its window still holds the outage (the bug this design removes)."""
    pair.post(_alert("RedisDown", "redis", "platform", "page"))
    pair.sink.wait_for(lambda ns: any(n.receiver == "platform-pager" for n in ns), timeout=15)
    pair.post(_alert("HighErrorRate", "backend", "learning", "ticket"))
    _settle()
    assert pair.delivered("learning-chat", "HighErrorRate") == []
    pair.post(_alert("RedisDown", "redis", "platform", "page", ends=0))
    pair.sink.wait_for(lambda ns: any(n.receiver == "learning-chat" for n in ns), timeout=15)
    assert pair.delivered("learning-chat", "HighErrorRate") == ["firing"]
