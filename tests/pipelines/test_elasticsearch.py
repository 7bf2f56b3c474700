"""Elasticsearch bodies: ECS mapping from the contract, retention from the model, valid per schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edu_platform import platform as edu
from obs import contract, schemas
from obs.artifacts import group
from obs.checks import elasticsearch as es_checks
from obs.renderers import elasticsearch as es
from tests.pipelines.conftest import ENVIRONMENTS, golden_files


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "elasticsearch"))
    assert len(files) == 7 * len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"elasticsearch/{rel}", path.read_bytes())


def _leaf(mapping: dict[str, Any], dotted: str) -> dict[str, Any]:
    if dotted in mapping["properties"]:
        return dict(mapping["properties"][dotted])
    head, _, rest = dotted.partition(".")
    return _leaf(mapping["properties"][head], rest)


@pytest.mark.parametrize(
    ("field", "es_type"),
    [
        (contract.TRACE_ID_FIELD, "keyword"),
        ("span.id", "keyword"),
        ("@timestamp", "date"),
        ("message", "text"),
        ("event.duration", "long"),
        ("http.response.status_code", "integer"),
        ("event.dataset", "keyword"),
        ("data_stream.dataset", "constant_keyword"),
    ],
)
def test_the_mapping_types_the_fields_like_ecs(field: str, es_type: str) -> None:
    assert _leaf(es.mappings(edu), field)["type"] == es_type


def test_every_contract_field_is_mapped_with_its_contract_type() -> None:
    mapping = es.mappings(edu)
    for f in contract.LOG_FIELDS:
        assert _leaf(mapping, f.name)["type"] == f.type


@pytest.mark.parametrize(
    ("env", "log_class", "days"),
    [
        ("prod", "access", 14),
        ("prod", "application", 30),
        ("prod", "audit", 400),
        ("staging", "access", 7),
        ("staging", "audit", 400),
        ("dev", "application", 3),
        ("dev", "audit", 30),
    ],
)
def test_retention_comes_from_the_model_per_class_and_environment(built: Path, env: str, log_class: str, days: int) -> None:
    assert edu.log_retention(edu.environment(env))[log_class] == days
    policy = json.loads((built / env / es.ILM_DIR / f"logs-edu.{log_class}-{env}.json").read_text())
    assert policy["policy"]["phases"]["delete"]["min_age"] == f"{days}d"


@pytest.mark.parametrize("log_class", contract.LOG_CLASSES)
def test_each_log_class_is_a_data_stream_with_its_policy(log_class: str) -> None:
    template = es.index_template(edu, edu.environment("prod"), log_class)
    assert template["data_stream"] == {}
    assert template["index_patterns"] == [f"logs-edu.{log_class}-prod"]
    assert template["template"]["settings"]["index.lifecycle.name"] == f"logs-edu.{log_class}-prod"
    assert template["priority"] > 100


def test_environments_sharing_a_cluster_keep_their_own_policies_and_templates(built: Path) -> None:
    """One elasticsearch_url serves every environment: with shared names, applying dev after prod
    gave prod's audit logs dev's 30 days instead of 400."""
    names: dict[str, set[str]] = {}
    for env in edu.environments:
        for folder in (es.ILM_DIR, es.INDEX_TEMPLATE_DIR):
            names.setdefault(folder, set())
            written = {p.stem for p in (built / env.name / folder).glob("*.json")}
            assert not written & names[folder], (env.name, folder, written & names[folder])
            names[folder] |= written
    patterns = [
        json.loads(p.read_text())["index_patterns"]
        for env in edu.environments
        for p in (built / env.name / es.INDEX_TEMPLATE_DIR).glob("*.json")
    ]
    flat = [pattern for group in patterns for pattern in group]
    assert len(flat) == len(set(flat)) and not any("*" in pattern for pattern in flat), flat


def test_the_fluentd_and_logstash_streams_fall_under_the_templates() -> None:
    from obs.formats.conventions import data_stream, stream_pattern
    from obs.formats.fluentd_conf import tag_matches

    for env in edu.environments:
        for log_class in contract.LOG_CLASSES:
            stream = data_stream(edu, log_class, env)
            assert es.index_template(edu, env, log_class)["index_patterns"] == [stream]
            # Kibana's data views span the environments: an index pattern is a glob with `*` over
            # any characters, the same shape as one tag part.
            assert tag_matches(stream_pattern(edu, log_class).replace("*", "**"), stream)


@pytest.mark.parametrize(
    ("schema", "body", "problem"),
    [
        ("elasticsearch-ilm-policy", {"policy": {"phases": {"hot": {"actions": {}}}}}, "'delete' is a required property"),
        ("elasticsearch-ilm-policy", {"policy": {"phases": {"hot": {"actions": {}}, "delete": {"min_age": "30 days", "actions": {"delete": {}}}}}}, "does not match"),
        ("elasticsearch-index-template", {"index_patterns": ["logs-*"], "priority": 100}, "less than the minimum"),
        ("elasticsearch-component-template", {"template": {"mappings": {"properties": {"trace": {"properties": {"id": {"type": "keywrd"}}}}}}}, "not valid under any"),
    ],
)
def test_the_schemas_reject_what_elasticsearch_would(schema: str, body: dict[str, Any], problem: str) -> None:
    problems = schemas.validate(schema, body)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_check_passes_on_the_written_files(built: Path, env: str) -> None:
    check = group("elasticsearch").check
    assert check is not None
    outcomes = list(check(built / env))
    assert outcomes and all(o.status == "passed" for o in outcomes), [o for o in outcomes if o.status != "passed"]


def test_check_reports_a_template_pointing_at_a_missing_policy(built: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(built / "prod", tmp_path / "prod")
    (tmp_path / "prod" / es.ILM_DIR / "logs-edu.audit-prod.json").unlink()
    outcomes = list(es_checks.check(tmp_path / "prod"))
    failed = [o for o in outcomes if o.status == "failed"]
    assert any("logs-edu.audit-prod" in o.detail for o in failed), outcomes


def test_the_timestamp_of_a_data_stream_never_ignores_malformed_values() -> None:
    """The index-wide ignore_malformed may not reach a data stream's @timestamp: Elasticsearch
    8.11+ switches it off there silently, 8.8-8.10 refuse to create the stream."""
    template = es.component_template(edu)
    assert template["template"]["settings"]["index.mapping.ignore_malformed"] is True
    assert template["template"]["mappings"]["properties"]["@timestamp"] == {"type": "date", "ignore_malformed": False}
