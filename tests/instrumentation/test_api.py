"""The public API: one call per app, idempotent, reversible; settings from argument, OBS_*, OTEL_*."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

import instrumentation
from instrumentation import instrument, resolve_settings, uninstrument
from tests.instrumentation.conftest import ServiceFactory


def test_the_public_api_is_small_sorted_and_importable() -> None:
    assert instrumentation.__all__ == [
        "Instrumentation",
        "InstrumentationSettings",
        "JsonFormatter",
        "build_record",
        "instrument",
        "resolve_settings",
        "uninstrument",
    ]
    for name in instrumentation.__all__:
        assert getattr(instrumentation, name) is not None


def test_instrumenting_twice_is_harmless(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework)
    again = instrument(service.app, tracer_provider=service.provider, registry=service.registry)
    assert again is service.state
    service.get("/items/1")
    assert len(service.spans()) == 1, "one span, not one per instrument() call"


def test_uninstrument_restores_the_app(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework)
    root_handlers = list(logging.getLogger().handlers)
    uninstrument(service.app)
    assert service.get("/items/1").status == 200
    assert service.spans() == []
    assert service.get("/metrics").status == 404
    assert service.state.log_handler not in logging.getLogger().handlers
    assert len(logging.getLogger().handlers) == len(root_handlers) - 1
    if framework == "flask":
        assert service.app.before_request_funcs.get(None, []) == []
    uninstrument(service.app)  # a second call only warns


def test_an_app_can_be_instrumented_again_after_uninstrument(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework)
    uninstrument(service.app)
    instrument(service.app, tracer_provider=service.provider, registry=CollectorRegistry(), trace_clients=False, json_logs=False)
    service.get("/items/1")
    assert len(service.spans()) == 1


def test_two_apps_can_share_one_registry(make_service: ServiceFactory) -> None:
    registry = CollectorRegistry()
    a = make_service("fastapi", registry=registry)
    b = make_service("flask", registry=registry)
    a.get("/items/1")
    b.get("/items/1")
    assert a.sample("http_server_requests_total", {
        "http_request_method": "GET", "http_route": "/items/{item_id}", "http_response_status_code": "200"}) == 1
    assert b.sample("http_server_requests_total", {
        "http_request_method": "GET", "http_route": "/items/<int:item_id>", "http_response_status_code": "200"}) == 1  # fmt: skip


def test_an_unsupported_app_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="FastAPI/Starlette and Flask"):
        instrument(object())


def test_the_fastapi_native_telemetry_is_replaced_and_restored(make_service: ServiceFactory) -> None:
    service = make_service("fastapi")
    native = getattr(service.app, "_telemetry", None)
    if native is None:
        pytest.skip("this FastAPI has no native telemetry")
    assert (native["tracing"], native["metrics"], native["logs"]) == (False, False, False)
    uninstrument(service.app)
    assert native["tracing"] is True


# --- settings -------------------------------------------------------------------------------


def test_an_argument_beats_obs_which_beats_otel() -> None:
    env = {"OBS_SERVICE_NAME": "from-obs", "OTEL_SERVICE_NAME": "from-otel"}
    assert resolve_settings(service_name="from-arg", env=env).service_name == "from-arg"
    assert resolve_settings(env=env).service_name == "from-obs"
    assert resolve_settings(env={"OTEL_SERVICE_NAME": "from-otel"}).service_name == "from-otel"
    assert resolve_settings(env={"OTEL_RESOURCE_ATTRIBUTES": "service.name=res"}).service_name == "res"
    assert resolve_settings(env={}).service_name == "unknown_service"


@pytest.mark.parametrize(
    ("env", "ratio"),
    [
        ({}, 1.0),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, 0.25),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 0.0),
        ({"OBS_TRACES_SAMPLE_RATIO": "0.1", "OTEL_TRACES_SAMPLER": "always_on"}, 0.1),
    ],
)
def test_the_sample_ratio_follows_obs_then_otel(env: dict[str, str], ratio: float) -> None:
    assert resolve_settings(env=env).sample_ratio == ratio


def test_otlp_endpoint_protocol_and_resource_attributes_come_from_otel_variables() -> None:
    s = resolve_settings(
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_RESOURCE_ATTRIBUTES": "service.version=3.1,deployment.environment=prod,team=edu",
        }
    )
    assert (s.otlp_endpoint, s.otlp_protocol) == ("http://collector:4317", "grpc")
    assert (s.service_version, s.environment) == ("3.1", "prod")
    assert resolve_settings(env={"OBS_OTLP_ENDPOINT": "http://jaeger:4318"}).otlp_endpoint == "http://jaeger:4318"


def test_switches_and_the_exclude_list_come_from_obs_variables() -> None:
    s = resolve_settings(env={"OBS_ACCESS_LOG": "false", "OBS_METRICS_PORT": "9464", "OBS_EXCLUDED_URLS": "/ping,/status"})
    assert s.access_log is False and s.metrics_port == 9464
    assert s.excluded_urls == ("/ping", "/status")
    assert resolve_settings(env={"OTEL_SDK_DISABLED": "true"}).traces is False


def test_invalid_settings_fail_loudly() -> None:
    with pytest.raises(ValueError, match="sample_ratio"):
        resolve_settings(sample_ratio=1.5, env={})
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        resolve_settings(env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    with pytest.raises(ValueError, match="OBS_ACCESS_LOG must be true or false"):
        resolve_settings(env={"OBS_ACCESS_LOG": "maybe"})


@pytest.mark.parametrize(
    "variable",
    ["OBS_TRACES_SAMPLE_RATIO", "OTEL_TRACES_SAMPLER_ARG", "OBS_OTLP_TIMEOUT", "OBS_ACCESS_LOG_FLUSH_INTERVAL"],
)
def test_a_number_that_is_not_one_names_its_variable(variable: str) -> None:
    env = {variable: "5s", "OTEL_TRACES_SAMPLER": "traceidratio"}
    with pytest.raises(ValueError, match=f"{variable} must be a number, got '5s'"):
        resolve_settings(env=env)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_checks_are_excluded_by_default(make_service: ServiceFactory, framework: str, path: str) -> None:
    service = make_service(framework)
    service.get(path)
    assert service.spans() == []
    assert "healthz" not in service.exposition() and service.log_lines() == []
