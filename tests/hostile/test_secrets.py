"""Secrets are never copied into the output: URLs with credentials are refused with the field to
use instead, and the Elasticsearch login reaches Fluentd, Logstash and Jaeger by reference only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edu_platform import platform as edu
from obs.builder import render
from obs.checks import fluentd as fluentd_checks
from obs.checks import jaeger as jaeger_checks
from obs.checks import logstash as logstash_checks
from obs.errors import ModelError
from obs.writer import write_tree

SECRET = "hunter2-s3cret"


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("elasticsearch_url", f"http://elastic:{SECRET}@es:9200", "set elasticsearch_username and elasticsearch_password_file"),
        ("grafana_url", f"https://admin:{SECRET}@grafana.example.org", "credentials by file"),
        ("alertmanager_url", f"http://am:{SECRET}@alertmanager:9093", "credentials by file"),
        ("jaeger_url", f"https://u:{SECRET}@jaeger.example.org", "credentials by file"),
        ("heartbeat_url", f"https://u:{SECRET}@hc-ping.com/x", "secret URL path"),
        ("alert_webhook_url", f"http://u:{SECRET}@alert-log:9095/alerts", "without credentials"),
    ],
)
def test_a_url_with_credentials_is_refused_with_the_field_to_use(field: str, value: str, fix: str) -> None:
    with pytest.raises(ModelError) as excinfo:
        dataclasses.replace(edu, **{field: value})
    message = str(excinfo.value)
    assert message.startswith(f"{field}: holds credentials"), message
    assert fix in message
    assert SECRET not in message


def test_the_elasticsearch_login_is_passed_by_reference_and_accepted_by_each_pipeline(tmp_path: Path) -> None:
    platform = dataclasses.replace(
        edu, elasticsearch_username="obs-writer", elasticsearch_password_file="/run/secrets/elasticsearch-password"
    )
    result = render(platform, ["prod"], ["fluentd", "logstash", "jaeger"], root=Path(__file__).parents[2])
    fluent = result.files["prod/fluentd/fluent.conf"].decode()
    assert "user obs-writer" in fluent
    assert "password \"#{File.read('/run/secrets/elasticsearch-password').strip}\"" in fluent
    assert 'user => "obs-writer"' in result.files["prod/logstash/pipeline/obs.conf"].decode()
    assert 'password => "${OBS_ELASTICSEARCH_PASSWORD}"' in result.files["prod/logstash/pipeline/obs.conf"].decode()
    jaeger = result.files["prod/jaeger/config.yaml"].decode()
    assert "password_file: /run/secrets/elasticsearch-password" in jaeger and "username: obs-writer" in jaeger
    write_tree(tmp_path / "out", result.files, result.owners)
    env_dir = tmp_path / "out" / "prod"
    for checks in (fluentd_checks, logstash_checks, jaeger_checks):
        failed = [f"{o.name}: {o.detail}" for o in checks.check(env_dir) if o.status == "failed"]
        assert not failed, failed
