"""Every standard setting is honoured or refused at start: the samplers of the OpenTelemetry
specification behave as it says, an unknown one is refused (or built by the SDK plugin that
provides it), and every refusal names the variable and what it accepts."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from instrumentation import resolve_settings
from instrumentation._settings import SAMPLERS
from instrumentation._tracing import build_sampler, build_tracer_provider

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def decisions(env: dict[str, str], parent_flags: int | None, n: int = 400) -> float:
    """The share of ``n`` new spans the configured sampler records (with a parent of these flags)."""
    sampler = build_sampler(resolve_settings(env=env))
    context = None
    if parent_flags is not None:
        parent = SpanContext(TRACE_ID, 0x00F067AA0BA902B7, True, TraceFlags(parent_flags))
        context = trace.set_span_in_context(NonRecordingSpan(parent))
    rng = random.Random(7)
    sampled = 0
    for _ in range(n):
        trace_id = TRACE_ID if parent_flags is not None else rng.getrandbits(128)
        result = sampler.should_sample(context, trace_id, "GET")
        sampled += result.decision is Decision.RECORD_AND_SAMPLE
    return sampled / n


@pytest.mark.parametrize(
    ("sampler", "arg", "root", "sampled_parent", "unsampled_parent"),
    [
        ("always_on", None, 1.0, 1.0, 1.0),  # ignores the parent's decision
        ("always_off", None, 0.0, 0.0, 0.0),
        ("traceidratio", "0.25", 0.25, None, None),  # the ratio decides, whatever the parent
        ("parentbased_always_on", None, 1.0, 1.0, 0.0),
        ("parentbased_always_off", None, 0.0, 1.0, 0.0),
        ("parentbased_traceidratio", "0.25", 0.25, 1.0, 0.0),
        ("PARENTBASED_TRACEIDRATIO", "0", 0.0, 1.0, 0.0),
    ],
)
def test_the_specifications_samplers_decide_as_it_says(
    sampler: str, arg: str | None, root: float, sampled_parent: float | None, unsampled_parent: float | None
) -> None:
    env = {"OTEL_TRACES_SAMPLER": sampler, **({"OTEL_TRACES_SAMPLER_ARG": arg} if arg else {})}
    assert decisions(env, None) == pytest.approx(root, abs=0.06)
    if sampled_parent is not None:
        assert decisions(env, 0x01) == sampled_parent
    if unsampled_parent is not None:
        assert decisions(env, 0x00) == unsampled_parent


def test_the_ratio_samplers_ignore_or_follow_the_parent_as_named() -> None:
    # traceidratio alone decides from the trace id: one fixed trace id is in or out, parent or not.
    env = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.0"}
    assert decisions(env, 0x01) == 0.0
    assert type(build_sampler(resolve_settings(env={"OTEL_TRACES_SAMPLER": "always_on"}))) is type(ALWAYS_ON)


@pytest.mark.parametrize("sampler", ["jaeger_remote", "parentbased_jaeger_remote", "xray", "ratio"])
def test_an_unknown_sampler_is_refused_naming_the_variable_and_the_accepted_values(sampler: str) -> None:
    with pytest.raises(ValueError) as refused:
        resolve_settings(env={"OTEL_TRACES_SAMPLER": sampler})
    message = str(refused.value)
    assert message.startswith(f"OTEL_TRACES_SAMPLER={sampler!r}")
    assert all(name in message for name in SAMPLERS)


class _EveryOther(Sampler):
    def __init__(self, arg: str | None) -> None:
        self.arg = arg
        self.calls = 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        self.calls += 1
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.calls % 2 else Decision.DROP)

    def get_description(self) -> str:
        return f"EveryOther({self.arg})"


class _EntryPoint:
    def load(self) -> Any:
        return _EveryOther


def test_a_sampler_an_installed_sdk_plugin_provides_is_built_by_that_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from instrumentation import _settings

    def entry_points(group: str, name: str) -> list[_EntryPoint]:
        assert group == "opentelemetry_traces_sampler"
        return [_EntryPoint()] if name == "every_other" else []

    monkeypatch.setattr(_settings, "entry_points", entry_points)
    settings = resolve_settings(env={"OTEL_TRACES_SAMPLER": "every_other", "OTEL_TRACES_SAMPLER_ARG": "x"})
    sampler = build_sampler(settings)
    assert isinstance(sampler, _EveryOther) and sampler.arg == "x"
    provider = build_tracer_provider(settings)
    assert provider.sampler is not None and provider.sampler.get_description() == "EveryOther(x)"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OBS_METRICS": "nope"}, "OBS_METRICS must be true or false (also 1/0, yes/no, on/off), got 'nope'"),
        ({"OBS_TRACES": "sometimes"}, "OBS_TRACES must be true or false"),
        ({"OBS_EXEMPLARS": "2"}, "OBS_EXEMPLARS must be true or false"),
        ({"OBS_JSON_LOGS": "json"}, "OBS_JSON_LOGS must be true or false"),
        ({"OTEL_SDK_DISABLED": "yes please"}, "OTEL_SDK_DISABLED must be true or false"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG must be a ratio within [0, 1]"),
        ({"OBS_TRACES_SAMPLE_RATIO": "-0.1"}, "OBS_TRACES_SAMPLE_RATIO must be within [0, 1]"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin': obs exports spans with otlp, console"),
        ({"OTEL_TRACES_EXPORTER": "otlp,none"}, "OTEL_TRACES_EXPORTER='otlp,none'"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (OTLP protocol) must be 'grpc' or 'http/protobuf'"),
        ({"OBS_METRICS_PORT": "metrics"}, "OBS_METRICS_PORT must be a port number, got 'metrics'"),
        ({"OBS_METRICS_PORT": "70000"}, "metrics_port (OBS_METRICS_PORT) must be within [0, 65535]"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_with_its_variable_and_what_is_accepted(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        resolve_settings(env=env)
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize(
    ("value", "traces", "exporters"),
    [("none", False, ()), ("otlp", True, ("otlp",)), ("console", True, ("console",)), ("otlp,console", True, ("otlp", "console"))],
)
def test_the_traces_exporter_variable_is_honoured(value: str, traces: bool, exporters: tuple[str, ...]) -> None:
    settings = resolve_settings(env={"OTEL_TRACES_EXPORTER": value})
    assert (settings.traces, settings.exporters) == (traces, exporters)


def test_the_console_exporter_writes_each_span_as_one_json_line(capfd: pytest.CaptureFixture[str]) -> None:
    provider = build_tracer_provider(resolve_settings(env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "svc"}))
    provider.get_tracer("t").start_span("GET /x").end()
    provider.shutdown()
    (line,) = capfd.readouterr().out.splitlines()
    assert json.loads(line)["name"] == "GET /x"
