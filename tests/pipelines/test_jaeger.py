"""Jaeger v2: sampling strategies per service and route from the model, valid config wiring."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu
from obs import schemas
from obs.checks import jaeger as jaeger_checks
from obs.formats import collector_config
from obs.renderers import jaeger
from tests.pipelines.conftest import ENVIRONMENTS, golden_files


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "jaeger"))
    assert len(files) == 2 * len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"jaeger/{rel}", path.read_bytes())


def _strategies(built: Path, env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((built / env / jaeger.STRATEGIES_PATH).read_text())
    return data


def _ops(built: Path, env: str, service: str) -> dict[str, float]:
    (strategy,) = [s for s in _strategies(built, env)["service_strategies"] if s["service"] == service]
    return {o["operation"]: o["param"] for o in strategy["operation_strategies"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("route", jaeger.HEALTH_ROUTES)
def test_health_checks_and_metrics_are_never_sampled(built: Path, env: str, route: str) -> None:
    data = _strategies(built, env)
    default_ops = {o["operation"]: o["param"] for o in data["default_strategy"]["operation_strategies"]}
    assert default_ops[f"GET {route}"] == 0.0
    for service in edu.instrumented_services:
        assert _ops(built, env, service.name)[f"GET {route}"] == 0.0


@pytest.mark.parametrize(
    ("env", "service", "default"),
    [("prod", "backend", 0.1), ("prod", "bridge", 0.2), ("staging", "backend", 1.0), ("staging", "bridge", 0.2), ("dev", "bridge", 1.0)],
)
def test_each_service_samples_at_its_environment_ratio(built: Path, env: str, service: str, default: float) -> None:
    (strategy,) = [s for s in _strategies(built, env)["service_strategies"] if s["service"] == service]
    assert strategy == {**strategy, "type": "probabilistic", "param": default}


@pytest.mark.parametrize(
    ("env", "operation", "param"),
    [
        ("prod", "POST /api/submissions", 0.5),
        ("prod", "GET /api/auth/login", 1.0),
        # Where the environment samples everything, a listed route is not sampled less.
        ("staging", "POST /api/submissions", 1.0),
    ],
)
def test_routes_that_matter_are_sampled_more_under_their_span_names(built: Path, env: str, operation: str, param: float) -> None:
    assert _ops(built, env, "backend")[operation] == param


def test_the_strategies_follow_jaegers_documented_schema(built: Path) -> None:
    for env in ENVIRONMENTS:
        assert schemas.validate("jaeger-sampling-strategies", _strategies(built, env)) == []


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d["default_strategy"].update(param=1.5), "greater than the maximum"),
        (lambda d: d["service_strategies"][0]["operation_strategies"][0].pop("operation"), "'operation' is a required property"),
        (lambda d: d["service_strategies"][0].update(operations=[]), "Unevaluated properties"),
    ],
)
def test_the_strategy_schema_rejects_what_jaeger_would(built: Path, mutate: Callable[[dict[str, Any]], Any], problem: str) -> None:
    data = _strategies(built, "prod")
    mutate(data)
    problems = schemas.validate("jaeger-sampling-strategies", data)
    assert any(problem in p for p in problems), problems


def test_the_config_wires_otlp_to_elasticsearch_storage(built: Path) -> None:
    config = yaml.safe_load((built / "prod" / jaeger.CONFIG_PATH).read_text())
    assert config["service"]["pipelines"]["traces"] == {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}
    backend = config["extensions"]["jaeger_storage"]["backends"][jaeger.STORAGE]
    assert backend["elasticsearch"]["server_urls"] == [edu.elasticsearch_url]
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] == jaeger.STORAGE
    assert config["extensions"]["remote_sampling"]["file"]["path"] == jaeger.STRATEGIES_MOUNT
    assert collector_config.check(config) == []
    assert schemas.validate("jaeger-config", config) == []


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda c: c["service"]["pipelines"]["traces"]["processors"].append("filter"), "which processors does not configure"),
        (lambda c: c["processors"].update(memory_limiter={}), "no pipeline uses it"),
        (lambda c: c["service"]["extensions"].remove("remote_sampling"), "not enabled in service.extensions"),
    ],
)
def test_wiring_mistakes_are_reported(mutate: Callable[[dict[str, Any]], Any], problem: str) -> None:
    config = jaeger.config(edu, edu.environment("prod"))
    mutate(config)
    assert any(problem in p for p in collector_config.check(config))


def test_check_passes_on_the_written_files(built: Path) -> None:
    outcomes = list(jaeger_checks.check(built / "prod"))
    assert outcomes and all(o.status == "passed" for o in outcomes), outcomes


def test_the_health_routes_are_the_ones_the_instrumentation_never_traces() -> None:
    settings = pytest.importorskip("instrumentation._settings", reason="the instrumentation package is not installed yet")
    assert set(settings.DEFAULT_EXCLUDED_URLS) == set(jaeger.HEALTH_ROUTES)
