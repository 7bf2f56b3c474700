"""Alertmanager for the operator: the Secret holding alertmanager.yaml, or an AlertmanagerConfig;
secrets are references to Secret keys, never values."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from obs.kube.alertmanager import (
    alertmanager_config,
    alertmanager_secret,
    inline_secrets,
    mounted_secret_file,
    parse_matcher,
)
from obs.kube.validate import validate_object

NS = "monitoring"

# The shape obs's Alertmanager renderer writes, with its secret files where the operator mounts them.
CONFIG = f"""
global:
  resolve_timeout: 5m
route:
  receiver: alert-log
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - receiver: heartbeat
      matchers: ['alertname="Watchdog"']
      group_wait: 0s
      repeat_interval: 1m
    - receiver: learning-pager
      continue: true
      matchers: ['team="learning"', 'severity="page"']
      routes:
        - receiver: learning-chat
          matchers: ['severity=~"page|ticket"']
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="ticket"']
    equal: [alertname, service]
receivers:
  - name: alert-log
    webhook_configs: [{{url: "http://alert-log:9095/alerts", send_resolved: true}}]
  - name: heartbeat
    webhook_configs: [{{url: "https://heartbeat.example.org/ping/obs", send_resolved: false}}]
  - name: learning-pager
    pagerduty_configs:
      - routing_key_file: {mounted_secret_file("learning-pager", "routing-key")}
        description: '{{{{ .CommonLabels.alertname }}}}'
        details: {{firing: '{{{{ .Alerts.Firing | len }}}}', dashboard_url: x}}
        send_resolved: true
  - name: learning-chat
    slack_configs:
      - api_url_file: {mounted_secret_file("learning-chat", "webhook-url")}
        channel: '#edu-learning'
        title: '{{{{ .CommonLabels.alertname }}}}'
        send_resolved: true
"""


def converted() -> dict[str, Any]:
    return alertmanager_config("obs", NS, yaml.safe_load(CONFIG))


def test_the_secret_holds_the_configuration_as_written() -> None:
    secret = alertmanager_secret("main", NS, CONFIG, templates={"obs.tmpl": '{{ define "x" }}{{ end }}'})
    assert secret["metadata"] == {"name": "alertmanager-main", "namespace": NS}
    assert secret["stringData"] == {"alertmanager.yaml": CONFIG, "obs.tmpl": '{{ define "x" }}{{ end }}'}
    assert validate_object(secret, "alertmanager.yaml") == []


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"receivers": [{"name": "p", "pagerduty_configs": [{"routing_key": "abc"}]}]}, "receivers[0].pagerduty_configs[0].routing_key"),
        ({"receivers": [{"name": "s", "slack_configs": [{"api_url": "https://hooks.slack.com/x"}]}]}, "receivers[0].slack_configs[0].api_url"),
        ({"global": {"slack_api_url": "https://hooks.slack.com/x"}}, "global.slack_api_url"),
        ({"receivers": [{"name": "w", "webhook_configs": [{"url": "http://x", "http_config": {"basic_auth": {"password": "pw"}}}]}]}, "receivers[0].webhook_configs[0].http_config.basic_auth.password"),
    ],
)
def test_a_secret_written_into_the_configuration_is_refused(config: dict[str, Any], where: str) -> None:
    assert inline_secrets(config) == [where]
    with pytest.raises(ValueError) as caught:
        alertmanager_secret("main", NS, yaml.safe_dump(config))
    assert str(caught.value) == (
        f"alertmanager.yaml: {where}: a secret written into the configuration; use its *_file setting with a mounted Secret "
        "(/etc/alertmanager/secrets/<secret>/<key>)"
    )


def test_the_alertmanager_config_validates_and_references_secret_keys() -> None:
    config = converted()
    assert validate_object(config, "alertmanager-config.yaml") == []
    receivers = {r["name"]: r for r in config["spec"]["receivers"]}
    assert receivers["learning-pager"]["pagerdutyConfigs"] == [
        {
            "routingKey": {"name": "learning-pager", "key": "routing-key"},
            "description": "{{ .CommonLabels.alertname }}",
            "details": [{"key": "dashboard_url", "value": "x"}, {"key": "firing", "value": "{{ .Alerts.Firing | len }}"}],
            "sendResolved": True,
        }
    ]
    assert receivers["learning-chat"]["slackConfigs"][0]["apiURL"] == {"name": "learning-chat", "key": "webhook-url"}
    assert receivers["alert-log"] == {"name": "alert-log", "webhookConfigs": [{"url": "http://alert-log:9095/alerts", "sendResolved": True}]}


def test_the_routing_tree_and_inhibitions_carry_over() -> None:
    spec = converted()["spec"]
    assert spec["route"] == {
        "receiver": "alert-log",
        "groupBy": ["alertname", "service"],
        "groupWait": "30s",
        "groupInterval": "5m",
        "repeatInterval": "4h",
        "routes": [
            {"receiver": "heartbeat", "groupWait": "0s", "repeatInterval": "1m", "matchers": [{"name": "alertname", "value": "Watchdog", "matchType": "="}]},
            {
                "receiver": "learning-pager",
                "continue": True,
                "routes": [{"receiver": "learning-chat", "matchers": [{"name": "severity", "value": "page|ticket", "matchType": "=~"}]}],
                "matchers": [{"name": "team", "value": "learning", "matchType": "="}, {"name": "severity", "value": "page", "matchType": "="}],
            },
        ],
    }
    assert spec["inhibitRules"] == [
        {
            "sourceMatch": [{"name": "severity", "value": "page", "matchType": "="}],
            "targetMatch": [{"name": "severity", "value": "ticket", "matchType": "="}],
            "equal": ["alertname", "service"],
        }
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="page"', {"name": "severity", "value": "page", "matchType": "="}),
        ('alertname=~"HighErrorRate|LatencyP99High"', {"name": "alertname", "value": "HighErrorRate|LatencyP99High", "matchType": "=~"}),
        ('team!="web"', {"name": "team", "value": "web", "matchType": "!="}),
        ('path!~"/a\\"b"', {"name": "path", "value": '/a"b', "matchType": "!~"}),
        ("env = prod", {"name": "env", "value": "prod", "matchType": "="}),
    ],
)
def test_matchers_are_parsed_as_alertmanager_writes_them(text: str, expected: dict[str, str]) -> None:
    assert parse_matcher(text, "route") == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"route": {"receiver": "p"}, "receivers": [{"name": "p", "pagerduty_configs": [{"routing_key_file": "/etc/alertmanager/secrets/learning-pager-key"}]}]},
            "alertmanager.yaml: receivers[0].pagerduty_configs[0].routing_key_file: '/etc/alertmanager/secrets/learning-pager-key' is not a mounted Secret file "
            "(/etc/alertmanager/secrets/<secret>/<key>); an AlertmanagerConfig names the Secret and key",
        ),
        ({"route": {"receiver": "p"}, "receivers": [{"name": "p", "pagerduty_configs": [{"routing_key": "abc"}]}]}, "alertmanager.yaml: receivers[0].pagerduty_configs[0].routing_key: a secret written into the configuration; use routing_key_file with a mounted Secret"),
        ({"route": {"receiver": "p"}, "templates": ["/etc/alertmanager/obs.tmpl"]}, "alertmanager.yaml: <root>.templates: cannot be written as an AlertmanagerConfig (use the alertmanager-<name> Secret)"),
        ({"global": {"smtp_smarthost": "mail:25"}, "route": {"receiver": "p"}}, "alertmanager.yaml: global.smtp_smarthost: cannot be written as an AlertmanagerConfig (use the alertmanager-<name> Secret)"),
        ({"route": {"receiver": "p"}, "receivers": [{"name": "p", "telegram_configs": [{}]}]}, "alertmanager.yaml: receivers[0].telegram_configs: cannot be written as an AlertmanagerConfig (use the alertmanager-<name> Secret)"),
        ({"route": {"receiver": "p", "routes": [{"matchers": ["severity=page"], "receiver": "p", "mute_time_intervals": ["night"], "foo": 1}]}}, "alertmanager.yaml: route.routes[0].foo: cannot be written as an AlertmanagerConfig (use the alertmanager-<name> Secret)"),
        ({"route": {"receiver": "p", "matchers": ["severity"]}}, "alertmanager.yaml: route.matchers[0]: 'severity' is not a matcher like name=\"value\" (=, !=, =~, !~)"),
        ({"receivers": []}, "alertmanager.yaml: route: required; the top route names the default receiver"),
    ],
)
def test_what_an_alertmanager_config_cannot_hold_is_refused_by_name(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        alertmanager_config("obs", NS, config)
    assert str(caught.value) == message
