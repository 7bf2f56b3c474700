"""Loading platforms from YAML and Python, and the JSON Schema they share."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from obs.errors import ModelError
from obs.loader import load_platform, platform_json_schema
from obs.model import LatencySLI, ServiceKind

HERE = Path(__file__).parent / "platforms"


def test_a_yaml_platform_loads_into_the_same_model_as_python() -> None:
    p = load_platform(HERE / "good.yaml")
    api = p.service("api")
    assert api.kind is ServiceKind.FASTAPI
    assert isinstance(api.slo("latency").sli, LatencySLI)
    assert api.slo("latency").sli.le == "0.25"
    assert api.slo("latency").window == "28d"
    assert p.scrape_targets(api, p.environment("dev")) == ("localhost:8000",)


def test_a_python_module_exporting_platform_loads() -> None:
    assert load_platform(HERE / "tiny.py").name == "tiny"


def test_no_source_means_the_platform_pyproject_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[2])
    monkeypatch.delenv("OBS_PLATFORM", raising=False)
    assert load_platform(None).name == "edu"


def test_obs_platform_names_the_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OBS_PLATFORM", str(HERE / "tiny.py"))
    assert load_platform(None).name == "tiny"


def test_no_platform_anywhere_says_how_to_name_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OBS_PLATFORM", raising=False)
    with pytest.raises(ModelError, match=r"--platform: no platform given \(pass --platform FILE, set OBS_PLATFORM, add `\[tool.obs\] platform"):
        load_platform(None)


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            "bad_objective.yaml",
            "bad_objective.yaml: services[bridge].slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)",
        ),
        ("bad_typo.yaml", "bad_typo.yaml: services[bridge].tierr: unknown field (did you mean 'tier'?)"),
        (
            "bad_threshold.yaml",
            "bad_threshold.yaml: services[bridge].slos[latency].sli.threshold_seconds: 0.33 is not a bucket boundary of http_server_request_duration_seconds",
        ),
    ],
)
def test_yaml_errors_name_the_file_and_the_full_path(file: str, message: str) -> None:
    with pytest.raises(ModelError) as excinfo:
        load_platform(HERE / file)
    assert str(excinfo.value).startswith(str(HERE / file).removesuffix(file) + message)


def test_a_missing_field_is_reported_with_its_description(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nservices: [{name: api, kind: fastapi}]\nenvironments: [{name: prod}]\n")
    with pytest.raises(ModelError, match=r"services\[api\]\.team: is required \(Owning team"):
        load_platform(path)


def test_the_schema_accepts_the_good_example_and_rejects_a_typo() -> None:
    schema = platform_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load((HERE / "good.yaml").read_text())))
    errors = list(validator.iter_errors(yaml.safe_load((HERE / "bad_typo.yaml").read_text())))
    assert any("tierr" in e.message for e in errors)


def test_the_schema_documents_every_field() -> None:
    defs = platform_json_schema()["$defs"]
    undocumented = [
        f"{name}.{field}"
        for name, d in defs.items()
        for field, prop in d["properties"].items()
        if field != "type" and not prop.get("description")
    ]
    assert undocumented == []


def test_the_alerting_fields_load_from_yaml() -> None:
    p = load_platform(HERE / "good.yaml")
    assert p.runbook_base_url == "https://runbooks.example.org"
    assert p.alert_webhook_url == "http://alert-log.school.internal:9095/alerts"
    assert p.infra_team == "core"
    assert p.team("core").chat_webhook_url_file == "/run/secrets/core-slack-webhook-url"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"infra_team": "cor"}, "infra_team: 'cor' is not a team of the platform (did you mean 'core'?)"),
        (
            {"alert_webhook_url": "alert-log:9095"},
            "alert_webhook_url: 'alert-log:9095' is not an http(s) URL (e.g. 'http://alert-log:9095/alerts')",
        ),
        (
            {"heartbeat_url": "hc-ping.com/abc"},
            "heartbeat_url: 'hc-ping.com/abc' is not an http(s) URL (e.g. 'https://hc-ping.com/<uuid>')",
        ),
        ({"runbook_base_url": 42}, "runbook_base_url: 42 is not a string (quote it in YAML)"),
        (
            {"teams": [{"name": "core", "chat_channel": "#core", "chat_webhook_url_file": "core-slack"}]},
            "teams[core].chat_webhook_url_file: 'core-slack' is not an absolute path (e.g. '/etc/alertmanager/secrets/core-slack-api-url')",
        ),
    ],
)
def test_yaml_errors_in_the_alerting_fields_name_the_file_and_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load((HERE / "good.yaml").read_text()), **change}))
    with pytest.raises(ModelError) as excinfo:
        load_platform(path)
    assert str(excinfo.value) == f"{path}: {message}"


def test_the_schema_describes_the_alerting_fields_with_their_defaults() -> None:
    defs = platform_json_schema()["$defs"]
    platform, team = defs["Platform"]["properties"], defs["Team"]["properties"]
    assert platform["alert_webhook_url"]["default"] == "http://alert-log:9095/alerts"
    assert platform["infra_team"]["default"] == "platform"
    assert platform["runbook_base_url"]["default"] == ""
    assert team["chat_webhook_url_file"]["default"] == ""
    assert "slack-api-url" in team["chat_webhook_url_file"]["description"]
    assert not {"alert_webhook_url", "infra_team", "runbook_base_url"} & set(defs["Platform"]["required"])
