"""The platform model: valid definitions build, invalid ones say where and how to fix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import edu_platform
from obs.errors import ModelError
from obs.model import (
    DEFAULT_ALERT_WEBHOOK_URL,
    DEFAULT_INFRA_TEAM,
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

#: The built-in platform: every case below changes one thing of a platform known to be valid.
EDU = edu_platform.platform
BACKEND = EDU.service("backend")
LEARNING = EDU.team("learning")


def edu(**overrides: Any) -> Platform:
    return dataclasses.replace(EDU, **overrides)


def backend(**overrides: Any) -> Service:
    return dataclasses.replace(BACKEND, **overrides)


def learning(**overrides: Any) -> Team:
    return dataclasses.replace(LEARNING, **overrides)


def minimal(**overrides: Any) -> Platform:
    """The smallest platform: one service, one environment, everything else by default."""
    fields: dict[str, Any] = {
        "name": "demo",
        "services": (Service("api", ServiceKind.FASTAPI, "core"),),
        "environments": (Environment("prod"),),
    }
    fields.update(overrides)
    return Platform(**fields)


def test_a_minimal_platform_builds_with_defaults() -> None:
    p = minimal()
    assert p.environment().name == "prod"
    assert p.log_retention(p.environment()) == {"access": 14, "application": 30, "audit": 400}
    assert p.scrape_targets(p.service("api"), p.environment()) == ("api:8000",)
    assert (p.runbook_base_url, p.alert_webhook_url, p.infra_team) == (
        "",
        DEFAULT_ALERT_WEBHOOK_URL,
        DEFAULT_INFRA_TEAM,
    )


def test_an_slo_window_defaults_to_30_days() -> None:
    assert SLO("availability", AvailabilitySLI(), 0.999).window == "30d"


def test_the_model_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        EDU.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        EDU.environment().external_labels["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: SLO("availability", AvailabilitySLI(), 1.2),
            "slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)",
        ),
        (
            lambda: SLO("availability", AvailabilitySLI(), 1.0),
            "slos[availability].objective: 1.0 must be between 0 and 1 (e.g. 0.999)",
        ),
        (
            lambda: SLO("availability", AvailabilitySLI(), 0.99, window="1d"),
            "slos[availability].window: 1d is shorter than the longest alert window (3d) allows for a useful budget (use at least 7d; 28d or 30d are usual)",
        ),
        (
            lambda: SLO("availability", AvailabilitySLI(), 0.99, window="30 days"),
            "slos[availability].window: '30 days' is not a duration (write a number and one unit of s, m, h, d, w, e.g. '30d')",
        ),
        (
            lambda: LatencySLI(threshold_seconds=0.2999),
            "threshold_seconds: 0.2999 is not a bucket boundary of http_server_request_duration_seconds (choose one of 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5, 10)",
        ),
        (
            lambda: backend(name="Backend"),
            "services[Backend].name: 'Backend' is not a valid service name (use lower-case letters, digits and '-', starting with a letter, at most 40 characters, e.g. 'backend')",
        ),
        (
            lambda: backend(kind="django"),
            "services[backend].kind: 'django' is not a service kind (use one of fastapi, flask, static_site, external_app)",
        ),
        (
            lambda: backend(tier=0),
            "services[backend].tier: 0 is not a tier (use 1 (critical), 2 (standard) or 3 (best effort))",
        ),
        (
            lambda: backend(kind=ServiceKind.STATIC_SITE, probe_url="https://x.example/"),
            "services[backend].slos: a static_site service does not emit request metrics, so it cannot have request SLOs (move the SLOs to an instrumented service or remove them; probes get their own alerts)",
        ),
        (
            lambda: backend(kind=ServiceKind.STATIC_SITE, slos=()),
            "services[backend].probe_url: a static_site service is watched by probing it (set probe_url, e.g. 'https://cms.example.org/')",
        ),
        (
            lambda: backend(slos=(SLO("a", AvailabilitySLI(), 0.9), SLO("a", AvailabilitySLI(), 0.99))),
            "services[backend].slos[a]: duplicate SLO name 'a' (give each SLO a unique name)",
        ),
        (
            lambda: backend(metrics_token_file="token.txt"),
            "services[backend].metrics_token_file: 'token.txt' is not an absolute path (e.g. '/etc/prometheus/secrets/backend-metrics-token')",
        ),
        (
            lambda: Dependency("db", DependencyKind.POSTGRES, "core", address="db"),
            "dependencies[db].address: 'db' is not host:port (e.g. 'postgres:5432')",
        ),
        (
            lambda: minimal(services=(Service("api", ServiceKind.FASTAPI, "core", depends_on=("mysql",)),)),
            "services[api].depends_on: 'mysql' is not a dependency or another service of the platform (add Dependency(name='mysql', ...) to dependencies)",
        ),
        (
            lambda: edu(services=(*EDU.services, BACKEND)),
            "services[backend]: duplicate component name 'backend' (give each component a unique name)",
        ),
        (
            lambda: edu(environments=()),
            "environments: a platform needs at least one environment (add Environment(name='prod'))",
        ),
        (
            lambda: edu(teams=(EDU.team("web"), EDU.team("platform"))),
            "2 problems:\n"
            "  services[backend].team: 'learning' is not a team of the platform (add Team(name='learning') to teams or use one of platform, web)\n"
            "  services[bridge].team: 'integrations' is not a team of the platform (add Team(name='integrations') to teams or use one of platform, web)",
        ),
        (
            lambda: edu(services=(backend(team="learnin"), *EDU.services[1:])),
            "services[backend].team: 'learnin' is not a team of the platform (did you mean 'learning'?)",
        ),
        (
            lambda: edu(environments=(Environment("prod", overrides={"backnd": ComponentOverride()}),)),
            "environments[prod].overrides[backnd]: 'backnd' is not a service or dependency (use one of backend, bridge, cms, dashboard, postgres, redis)",
        ),
        (
            lambda: Environment("prod", external_labels={"environment": "x"}),
            "environments[prod].external_labels[environment]: the environment label is set from the environment's name (remove it)",
        ),
        *(
            (
                lambda value=value: edu(jaeger_otlp_endpoint=value),
                f"jaeger_otlp_endpoint: {value!r} is not http(s)://host:port (the scheme says whether it is TLS) "
                "(e.g. 'http://jaeger-collector.tracing:4317')",
            )
            for value in (
                "jaeger-collector:4317", "http://jaeger-collector", "grpc://j:4317", "http://j:4317/v1/traces",
                "http://j:99999", "https://user:pw@j:4317",
            )
        ),
        (
            lambda: Environment("prod", log_retention_days={"debug": 3}),
            "environments[prod].log_retention_days[debug]: 'debug' is not a log class (use one of access, application, audit)",
        ),
    ],
)
def test_invalid_values_name_their_path_and_the_fix(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError) as excinfo:
        build()
    assert str(excinfo.value) == message


# --- the alerting fields: runbook base, alert-log webhook, infra team, chat webhook file ------------


@pytest.mark.parametrize(
    ("build", "field", "value"),
    [
        (
            lambda: edu(runbook_base_url="https://wiki.example.org/runbooks/"),
            "runbook_base_url",
            "https://wiki.example.org/runbooks/",
        ),
        (lambda: edu(runbook_base_url=""), "runbook_base_url", ""),
        (
            lambda: edu(alert_webhook_url="https://tickets.example.org/hooks/alertmanager"),
            "alert_webhook_url",
            "https://tickets.example.org/hooks/alertmanager",
        ),
        (lambda: edu(infra_team="web"), "infra_team", "web"),
        (lambda: minimal(infra_team="ops"), "infra_team", "ops"),
        (
            lambda: learning(chat_webhook_url_file="/run/secrets/learning-slack"),
            "chat_webhook_url_file",
            "/run/secrets/learning-slack",
        ),
        (lambda: learning(chat_webhook_url_file=""), "chat_webhook_url_file", ""),
    ],
    ids=[
        "runbook base",
        "no runbook base",
        "webhook",
        "infra team declared",
        "infra team without declared teams",
        "chat webhook file",
        "no chat webhook file",
    ],
)
def test_good_alerting_fields_are_kept_as_given(build, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    assert getattr(build(), field) == value


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: edu(runbook_base_url="runbooks.example.org"),
            "runbook_base_url: 'runbooks.example.org' is not an http(s) URL (e.g. 'https://runbooks.example.org')",
        ),
        (
            lambda: edu(alert_webhook_url=""),
            "alert_webhook_url: '' is not an http(s) URL (e.g. 'http://alert-log:9095/alerts')",
        ),
        (
            lambda: edu(alert_webhook_url="http://alert log:9095/"),
            "alert_webhook_url: 'http://alert log:9095/' is not an http(s) URL (e.g. 'http://alert-log:9095/alerts')",
        ),
        (
            lambda: edu(alert_webhook_url="https://bot:s3cret@tickets.example.org/hook"),
            "alert_webhook_url: holds credentials, which would be copied in clear into every file that names the URL (use a URL without credentials (Alertmanager 0.25 writes it into alertmanager.yml); protect the webhook on the network side)",
        ),
        (
            lambda: edu(infra_team="platfrom"),
            "infra_team: 'platfrom' is not a team of the platform (did you mean 'platform'?)",
        ),
        (
            lambda: edu(infra_team="sre"),
            "infra_team: 'sre' is not a team of the platform (add Team(name='sre') to teams or use one of integrations, learning, platform, web)",
        ),
        (
            lambda: minimal(infra_team="SRE"),
            "infra_team: 'SRE' is not a valid team name (use lower-case letters, digits and '-', starting with a letter, at most 40 characters, e.g. 'backend')",
        ),
        (
            lambda: minimal(teams=(Team("core"),)),
            "infra_team: 'platform' is not a team of the platform (add Team(name='platform') to teams or use one of core)",
        ),
        (
            lambda: learning(chat_webhook_url_file="learning-slack-api-url"),
            "teams[learning].chat_webhook_url_file: 'learning-slack-api-url' is not an absolute path (e.g. '/etc/alertmanager/secrets/learning-slack-api-url')",
        ),
        (
            lambda: learning(chat_channel="", chat_webhook_url_file="/run/secrets/learning-slack"),
            "teams[learning].chat_webhook_url_file: a chat webhook is only used with a chat channel (set chat_channel, e.g. '#edu-backend', or remove chat_webhook_url_file)",
        ),
    ],
    ids=[
        "runbook base not a URL",
        "empty webhook",
        "webhook with a space",
        "webhook with credentials",
        "infra team typo",
        "infra team undeclared",
        "infra team not a name",
        "teams without the default infra team",
        "chat webhook file relative",
        "chat webhook file without channel",
    ],
)
def test_bad_alerting_fields_name_the_field_and_the_fix(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError) as excinfo:
        build()
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("team", "expected"),
    [
        (learning(chat_webhook_url_file="/run/secrets/learning-slack"), "/run/secrets/learning-slack"),
        (
            learning(chat_webhook_url_file="", pager_key_file="/run/secrets/learning-pager"),
            "/run/secrets/learning-slack-api-url",
        ),
        (
            learning(chat_webhook_url_file="", pager_key_file=""),
            "/etc/alertmanager/secrets/learning-slack-api-url",
        ),
    ],
    ids=["given", "beside the pager key", "default secrets folder"],
)
def test_the_chat_webhook_file_defaults_to_the_convention(team: Team, expected: str) -> None:
    assert team.chat_webhook_url_file_or_default == expected


def test_a_latency_threshold_on_a_bucket_boundary_gives_the_exact_le_label() -> None:
    assert LatencySLI(threshold_seconds=0.3).le == "0.3"
    assert LatencySLI(threshold_seconds=1).le == "1.0"


def test_environment_overrides_replace_targets_probe_urls_and_sampling() -> None:
    site = Service("site", ServiceKind.STATIC_SITE, "core", probe_url="https://site.example/")
    env = Environment(
        "dev",
        overrides={
            "site": ComponentOverride(probe_url="http://site:3000/"),
            "api": ComponentOverride(targets=("a:1", "b:2"), sampling_ratio=1.0),
        },
    )
    p = minimal(
        services=(Service("api", ServiceKind.FASTAPI, "core"), site), environments=(Environment("prod"), env)
    )
    assert p.probe_url(site, env) == "http://site:3000/"
    assert p.probe_url(site, p.environment("prod")) == "https://site.example/"
    assert p.scrape_targets(p.service("api"), env) == ("a:1", "b:2")
    assert p.sampling_ratio(p.service("api"), env) == 1.0
    assert p.sampling_ratio(p.service("api"), p.environment("prod")) == 0.1


def test_an_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(
        ModelError, match=r"--env: 'qa' is not an environment of platform 'demo' \(use one of prod\)"
    ):
        minimal().environment("qa")


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
