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


def test_no_source_means_the_builtin_platform() -> None:
    assert load_platform(None).name == "edu"


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("bad_objective.yaml", "bad_objective.yaml: services[bridge].slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)"),
        ("bad_typo.yaml", "bad_typo.yaml: services[bridge].tierr: unknown field (did you mean 'tier'?)"),
        ("bad_threshold.yaml", "bad_threshold.yaml: services[bridge].slos[latency].sli.threshold_seconds: 0.33 is not a bucket boundary of http_server_request_duration_seconds"),
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
    undocumented = [f"{name}.{field}" for name, d in defs.items() for field, prop in d["properties"].items() if field != "type" and not prop.get("description")]
    assert undocumented == []
