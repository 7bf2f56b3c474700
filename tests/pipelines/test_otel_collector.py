"""The collector hop: the contract's redaction, health spans dropped, tail sampling from SLOs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu
from obs import contract
from obs.checks import otel_collector as oc_checks
from obs.formats import collector_config
from obs.renderers import otel_collector as oc
from tests.pipelines.conftest import ENVIRONMENTS, golden_files


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "otel-collector"))
    assert len(files) == len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"otel-collector/{rel}", path.read_bytes())


def _config(built: Path, env: str = "prod") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((built / env / oc.CONFIG_PATH).read_text())
    return data


def test_sensitive_attribute_keys_are_overwritten(built: Path) -> None:
    actions = _config(built)["processors"]["attributes/redact"]["actions"]
    assert {a["key"] for a in actions} == contract.SENSITIVE_ATTRIBUTE_KEYS
    assert {(a["action"], a["value"]) for a in actions} == {("update", contract.REDACTED)}


def test_the_redaction_processor_blocks_every_contract_pattern(built: Path) -> None:
    redaction = _config(built)["processors"]["redaction"]
    assert redaction["allow_all_keys"] is True
    assert redaction["blocked_values"] == [r.pattern for r in contract.REDACTION_RULES]


def test_every_error_trace_is_kept(built: Path) -> None:
    policies = _config(built)["processors"]["tail_sampling"]["policies"]
    assert {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}} in policies


@pytest.mark.parametrize(("service", "threshold_ms"), [("backend", 300), ("bridge", 1000)])
def test_traces_slower_than_the_latency_slo_are_kept(built: Path, service: str, threshold_ms: int) -> None:
    policies = {p["name"]: p for p in _config(built)["processors"]["tail_sampling"]["policies"]}
    slow = policies[f"{service}-slower-than-slo"]["and"]["and_sub_policy"]
    assert slow[0]["string_attribute"] == {"key": "service.name", "values": [service]}
    assert slow[1]["latency"] == {"threshold_ms": threshold_ms}


@pytest.mark.parametrize(("env", "percentage"), [("prod", 10.0), ("staging", 100.0)])
def test_the_baseline_ratio_follows_the_environment(built: Path, env: str, percentage: float) -> None:
    policies = {p["name"]: p for p in _config(built, env)["processors"]["tail_sampling"]["policies"]}
    ratio = policies["backend-baseline"]["and"]["and_sub_policy"][1]
    assert ratio["probabilistic"]["sampling_percentage"] == percentage


def test_health_spans_are_dropped_before_sampling(built: Path) -> None:
    config = _config(built)
    conditions = config["processors"]["filter/health"]["traces"]["span"]
    assert len(conditions) == len(oc.HEALTH_ROUTES)
    order = config["service"]["pipelines"]["traces"]["processors"]
    assert order == list(oc.PROCESSORS)
    assert order.index("filter/health") < order.index("tail_sampling")


def test_export_to_jaeger_retries_from_a_disk_queue(built: Path) -> None:
    exporter = _config(built)["exporters"]["otlp/jaeger"]
    assert exporter["endpoint"] == "jaeger.edu.example.org:4317"
    assert exporter["sending_queue"]["storage"] == "file_storage/queue"
    assert exporter["retry_on_failure"]["max_elapsed_time"] == "0s"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("", ("jaeger.edu.example.org:4317", False)),  # jaeger_url's host and scheme
        ("http://jaeger-collector.tracing:4317", ("jaeger-collector.tracing:4317", True)),
        ("https://otlp.jaeger.example.org:443/", ("otlp.jaeger.example.org:443", False)),
    ],
)
def test_the_export_goes_where_jaeger_otlp_endpoint_says(endpoint: str, expected: tuple[str, bool]) -> None:
    """The UI's ingress (jaeger_url) rarely serves gRPC: the receiver has a field of its own."""
    from dataclasses import replace

    platform = replace(edu, jaeger_otlp_endpoint=endpoint)
    exporter = oc.config(platform, platform.environments[0])["exporters"]["otlp/jaeger"]
    assert (exporter["endpoint"], exporter["tls"]["insecure"]) == expected


def test_the_wiring_is_complete_in_every_environment(built: Path) -> None:
    for env in ENVIRONMENTS:
        assert collector_config.check(_config(built, env)) == []
        assert all(o.status == "passed" for o in oc_checks.check(built / env))


def test_check_reports_redaction_after_sampling(tmp_path: Path) -> None:
    config = oc.config(edu, edu.environment("prod"))
    order = config["service"]["pipelines"]["traces"]["processors"]
    order.remove("redaction")
    order.append("redaction")
    path = tmp_path / oc.CONFIG_PATH
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config))
    (outcome,) = oc_checks.check(tmp_path)
    assert outcome.status == "failed" and "redaction must run before tail_sampling" in outcome.detail


def test_go_re2_reads_the_blocked_values_like_python(built: Path) -> None:
    """The collector compiles blocked_values with Go's RE2; google-re2 is the same engine."""
    re2 = pytest.importorskip("re2", reason="google-re2 not installed (pip install google-re2)")
    from tests.pipelines.conftest import PERSONAL_DATA_SAMPLES

    patterns = [re2.compile(p) for p in _config(built)["processors"]["redaction"]["blocked_values"]]
    for sample in PERSONAL_DATA_SAMPLES:
        text = sample
        for pattern in patterns:
            text = pattern.sub(contract.REDACTED, text)
        assert text == contract.redact(sample), sample
