"""The platform model: valid definitions build, invalid ones say where and how to fix."""

from __future__ import annotations

import dataclasses

import pytest

from obs.errors import ModelError
from obs.model import (
    SLO,
    AvailabilitySLI,
    ComponentOverride,
    Dependency,
    DependencyKind,
    Environment,
    LatencySLI,
    Platform,
    Service,
    ServiceKind,
    Team,
    format_duration,
    parse_duration,
)


def api(**overrides: object) -> Service:
    fields: dict[str, object] = {"name": "api", "kind": ServiceKind.FASTAPI, "team": "core", "slos": (SLO("availability", AvailabilitySLI(), 0.999),)}
    fields.update(overrides)
    return Service(**fields)  # type: ignore[arg-type]


def platform(**overrides: object) -> Platform:
    fields: dict[str, object] = {"name": "demo", "services": (api(),), "environments": (Environment("prod"),)}
    fields.update(overrides)
    return Platform(**fields)  # type: ignore[arg-type]


def test_a_minimal_platform_builds_with_defaults() -> None:
    p = platform()
    assert p.environment().name == "prod"
    assert p.service("api").slos[0].window == "30d"
    assert p.log_retention(p.environment()) == {"access": 14, "application": 30, "audit": 400}
    assert p.scrape_targets(p.service("api"), p.environment()) == ("api:8000",)


def test_the_model_is_immutable() -> None:
    p = platform()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.environment().external_labels["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SLO("availability", AvailabilitySLI(), 1.2), "slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)"),
        (lambda: SLO("availability", AvailabilitySLI(), 1.0), "slos[availability].objective: 1.0 must be between 0 and 1 (e.g. 0.999)"),
        (lambda: SLO("availability", AvailabilitySLI(), 0.99, window="1d"), "slos[availability].window: 1d is shorter than the longest alert window (3d) allows for a useful budget (use at least 7d; 28d or 30d are usual)"),
        (lambda: SLO("availability", AvailabilitySLI(), 0.99, window="30 days"), "slos[availability].window: '30 days' is not a duration (write a number and one unit of s, m, h, d, w, e.g. '30d')"),
        (lambda: LatencySLI(threshold_seconds=0.2999), "threshold_seconds: 0.2999 is not a bucket boundary of http_server_request_duration_seconds (choose one of 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 7.5, 10)"),
        (lambda: api(name="API"), "services[API].name: 'API' is not a valid service name (use lower-case letters, digits and '-', starting with a letter, at most 40 characters, e.g. 'backend')"),
        (lambda: api(kind="django"), "services[api].kind: 'django' is not a service kind (use one of fastapi, flask, static_site, external_app)"),
        (lambda: api(tier=0), "services[api].tier: 0 is not a tier (use 1 (critical), 2 (standard) or 3 (best effort))"),
        (lambda: api(kind=ServiceKind.STATIC_SITE, probe_url="https://x.example/"), "services[api].slos: a static_site service does not emit request metrics, so it cannot have request SLOs (move the SLOs to an instrumented service or remove them; probes get their own alerts)"),
        (lambda: api(kind=ServiceKind.STATIC_SITE, slos=()), "services[api].probe_url: a static_site service is watched by probing it (set probe_url, e.g. 'https://cms.example.org/')"),
        (lambda: api(slos=(SLO("a", AvailabilitySLI(), 0.9), SLO("a", AvailabilitySLI(), 0.99))), "services[api].slos[a]: duplicate SLO name 'a' (give each SLO a unique name)"),
        (lambda: api(metrics_token_file="token.txt"), "services[api].metrics_token_file: 'token.txt' is not an absolute path (e.g. '/etc/prometheus/secrets/backend-metrics-token')"),
        (lambda: Dependency("db", DependencyKind.POSTGRES, "core", address="db"), "dependencies[db].address: 'db' is not host:port (e.g. 'postgres:5432')"),
        (lambda: platform(services=(api(depends_on=("mysql",)),)), "services[api].depends_on: 'mysql' is not a dependency or another service of the platform (add Dependency(name='mysql', ...) to dependencies)"),
        (lambda: platform(services=(api(), api())), "services[api]: duplicate component name 'api' (give each component a unique name)"),
        (lambda: platform(environments=()), "environments: a platform needs at least one environment (add Environment(name='prod'))"),
        (lambda: platform(teams=(Team("web"),)), "services[api].team: 'core' is not a team of the platform (add Team(name='core') to teams or use one of web)"),
        (lambda: platform(environments=(Environment("prod", overrides={"apx": ComponentOverride()}),)), "environments[prod].overrides[apx]: 'apx' is not a service or dependency (use one of api)"),
        (lambda: Environment("prod", external_labels={"environment": "x"}), "environments[prod].external_labels[environment]: the environment label is set from the environment's name (remove it)"),
        (lambda: Environment("prod", log_retention_days={"debug": 3}), "environments[prod].log_retention_days[debug]: 'debug' is not a log class (use one of access, application, audit)"),
    ],
)
def test_invalid_values_name_their_path_and_the_fix(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError) as excinfo:
        build()
    assert str(excinfo.value) == message


def test_a_latency_threshold_on_a_bucket_boundary_gives_the_exact_le_label() -> None:
    assert LatencySLI(threshold_seconds=0.3).le == "0.3"
    assert LatencySLI(threshold_seconds=1).le == "1.0"


def test_environment_overrides_replace_targets_probe_urls_and_sampling() -> None:
    site = Service("site", ServiceKind.STATIC_SITE, "core", probe_url="https://site.example/")
    env = Environment("dev", overrides={"site": ComponentOverride(probe_url="http://site:3000/"), "api": ComponentOverride(targets=("a:1", "b:2"), sampling_ratio=1.0)})
    p = platform(services=(api(), site), environments=(Environment("prod"), env))
    assert p.probe_url(site, env) == "http://site:3000/"
    assert p.probe_url(site, p.environment("prod")) == "https://site.example/"
    assert p.scrape_targets(p.service("api"), env) == ("a:1", "b:2")
    assert p.sampling_ratio(p.service("api"), env) == 1.0
    assert p.sampling_ratio(p.service("api"), p.environment("prod")) == 0.1


def test_an_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match=r"--env: 'qa' is not an environment of platform 'demo' \(use one of prod\)"):
        platform().environment("qa")


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h", 3600), ("30d", 2592000), ("2w", 1209600)])
def test_durations_round_trip(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration_prefers_days_for_slo_windows() -> None:
    assert format_duration(28 * 86400) == "28d"
    assert format_duration(90) == "90s"


def test_the_builtin_platform_describes_the_educational_platform(edu_platform: Platform) -> None:
    assert [s.name for s in edu_platform.services] == ["backend", "bridge", "dashboard", "cms"]
    assert [d.name for d in edu_platform.dependencies] == ["postgres", "redis"]
    assert edu_platform.service("backend").kind is ServiceKind.FASTAPI
    assert edu_platform.service("bridge").kind is ServiceKind.FLASK
    assert {s.name for s in edu_platform.probed_services} == {"dashboard", "cms"}
    assert all(s.slos for s in edu_platform.instrumented_services)
