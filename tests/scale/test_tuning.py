"""A platform retunes or switches off catalogue alerts per component or environment: the rule
carries the tuned threshold, ``for`` and severity, its generated tests are built from them and pass
promtool, a switched-off alert is gone with its tests, and a tuning the catalogue cannot apply is a
model error naming what it can."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.bench_scale import scale_platform
from obs.builder import build, render
from obs.checks import rules as rules_checks
from obs.errors import ModelError
from obs.model import AlertTuning, Environment, Platform, Service, ServiceKind
from obs.tools import available


def _tuned() -> Platform:
    base = scale_platform(3, ("prod", "staging"))
    postgres, redis = base.dependencies
    services = list(base.services)
    services[1] = replace(services[1], alerts={"TargetDown": AlertTuning(for_="2m", severity="page"), "MetricsAbsent": AlertTuning(for_="4m")})
    site = Service("site", ServiceKind.STATIC_SITE, "team000", probe_url="https://site.example.org/", alerts={"TLSCertificateExpiring": AlertTuning(threshold=30)})
    return replace(
        base,
        services=(*services, site),
        dependencies=(
            replace(postgres, alerts={"PostgresTooManyConnections": AlertTuning(threshold=0.6, for_="7m"), "PostgresDeadlocks": AlertTuning(threshold=4)}),
            replace(redis, alerts={"RedisMemoryHigh": AlertTuning(severity="page"), "RedisEvictions": AlertTuning(enabled=False)}),
        ),
        environments=(
            Environment(
                "prod",
                alerts={
                    "NodeMemoryPressure": AlertTuning(threshold=0.2),
                    "NodeFilesystemFillingUp": AlertTuning(threshold=0.05, for_="20m"),
                    "PrometheusNotificationsFailing": AlertTuning(threshold=0.6),
                    "redis/RedisMemoryHigh": AlertTuning(threshold=0.75),
                },
            ),
            Environment("staging", paging=False, alerts={"AlertmanagerConfigReloadFailed": AlertTuning(enabled=False), "svc0002/TargetDown": AlertTuning(enabled=False)}),
        ),
    )


@pytest.fixture(scope="module")
def tuned_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tuned") / "build"
    build(_tuned(), out, groups=["prometheus", "rules"])
    return out


def _rules(out: Path, env: str, file: str) -> dict[str, dict[str, Any]]:
    """Alert rules of a file by (alert, service)."""
    document = yaml.safe_load((out / env / "prometheus" / "rules" / f"{file}.yml").read_text())
    return {f"{r['alert']}/{r['labels']['service']}": r for g in document["groups"] for r in g["rules"] if "alert" in r}


def _test_names(out: Path, env: str, file: str) -> list[str]:
    document = yaml.safe_load((out / env / "prometheus" / "tests" / f"{file}.test.yml").read_text())
    return [t["name"] for t in document["tests"]]


@pytest.mark.parametrize(
    ("env", "file", "alert", "expr_end", "for_", "severity"),
    [
        ("prod", "postgres", "PostgresTooManyConnections/postgres", "> 0.6", "7m", "ticket"),
        ("prod", "postgres", "PostgresDeadlocks/postgres", "[5m])) > 4", "10m", "ticket"),
        ("prod", "redis", "RedisMemoryHigh/redis", "> 0.75", "5m", "page"),  # severity from the component, threshold from prod
        ("staging", "redis", "RedisMemoryHigh/redis", "> 0.9", "5m", "page"),
        ("prod", "targets", "TargetDown/svc0001", "== 0", "2m", "page"),
        ("prod", "targets", "MetricsAbsent/svc0001", '"svc0001"})', "4m", "ticket"),
        ("prod", "node", "NodeMemoryPressure/node", "< 0.2", "15m", "ticket"),
        ("prod", "node", "NodeFilesystemFillingUp/node", "== 0", "20m", "page"),
        ("prod", "self-monitoring", "PrometheusNotificationsFailing/prometheus", "> 0.6", "10m", "page"),
        ("prod", "probes", "TLSCertificateExpiring/site", f"< {30 * 86400}", "15m", "ticket"),
    ],
)
def test_a_tuned_alert_carries_its_tuned_values(tuned_out: Path, env: str, file: str, alert: str, expr_end: str, for_: str, severity: str) -> None:
    rule = _rules(tuned_out, env, file)[alert]
    assert rule["expr"].rstrip().endswith(expr_end)
    assert rule["for"] == for_
    assert rule["labels"]["severity"] == severity


def test_a_tuned_threshold_shows_in_the_description(tuned_out: Path) -> None:
    rules = _rules(tuned_out, "prod", "postgres")
    assert "(threshold 60%)" in rules["PostgresTooManyConnections/postgres"]["annotations"]["description"]
    assert "more than 4 deadlocks every 5m for 10m" in rules["PostgresDeadlocks/postgres"]["annotations"]["description"]
    assert "with less than 5% free already" in _rules(tuned_out, "prod", "node")["NodeFilesystemFillingUp/node"]["annotations"]["description"]


def test_a_switched_off_alert_is_gone_with_its_tests(tuned_out: Path) -> None:
    assert "RedisEvictions/redis" not in _rules(tuned_out, "prod", "redis")
    assert not any(n.startswith("RedisEvictions") for n in _test_names(tuned_out, "prod", "redis"))
    staging = _rules(tuned_out, "staging", "self-monitoring")
    assert "AlertmanagerConfigReloadFailed/alertmanager" not in staging
    assert "PrometheusConfigReloadFailed/prometheus" in staging
    assert not any(n.startswith("AlertmanagerConfigReloadFailed") for n in _test_names(tuned_out, "staging", "self-monitoring"))
    assert "TargetDown/svc0002" not in _rules(tuned_out, "staging", "targets")
    assert "TargetDown/svc0002" in _rules(tuned_out, "prod", "targets")


def test_a_tuned_member_leaves_its_template_for_cases_of_its_own(tuned_out: Path) -> None:
    names = _test_names(tuned_out, "prod", "targets")
    assert "TargetDown [svc0001]: fires" in names  # its `for` differs: its own cases
    assert any(n.startswith("TargetDown [svc0000, svc0002, postgres and") for n in names)


@pytest.mark.skipif(not available("promtool"), reason="promtool not installed")
@pytest.mark.parametrize("env", ["prod", "staging"])
def test_the_tests_built_from_tuned_values_pass(tuned_out: Path, env: str) -> None:
    failed = [f"{o.name}\n{o.detail}" for o in rules_checks.test(tuned_out / env) if o.status != "passed"]
    assert failed == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"services": {"svc0000": {"PostgresDown": AlertTuning(enabled=False)}}},
            "services[svc0000].alerts[PostgresDown]: 'PostgresDown' is not a catalogue alert of an instrumented service (use one of ",
        ),
        (
            {"environments": {"NoSuchAlert": AlertTuning(enabled=False)}},
            "environments[prod].alerts[NoSuchAlert]: 'NoSuchAlert' is not a catalogue alert of the catalogue (use one of AlertmanagerConfigReloadFailed, ",
        ),
        (
            {"environments": {"postgres/RedisDown": AlertTuning(enabled=False)}},
            "environments[prod].alerts[postgres/RedisDown]: 'RedisDown' is not a catalogue alert of a postgres dependency (use one of MetricsAbsent, PostgresDeadlocks, PostgresDown",
        ),
        (
            {"services": {"svc0000": {"TargetDown": AlertTuning(threshold=3)}}},
            "services[svc0000].alerts[TargetDown].threshold: TargetDown has no threshold to tune (tune enabled, severity or for)",
        ),
        (
            {"environments": {"RedisMemoryHigh": AlertTuning(threshold=1.5)}},
            "environments[prod].alerts[RedisMemoryHigh].threshold: 1.5 is not a threshold in share of maxmemory (0-1) (above 0 and below 1) (e.g. 0.9)",
        ),
    ],
)
def test_a_tuning_the_catalogue_cannot_apply_is_a_model_error(change: dict[str, Any], message: str) -> None:
    platform = scale_platform(2, ("prod",))
    if "services" in change:
        ((name, alerts),) = change["services"].items()
        platform = replace(platform, services=tuple(replace(s, alerts=alerts) if s.name == name else s for s in platform.services))
    else:
        platform = replace(platform, environments=(Environment("prod", alerts=change["environments"]),))
    with pytest.raises(ModelError) as raised:
        render(platform, groups=["rules"])
    assert message in str(raised.value)


def test_every_mistake_in_the_tunings_is_reported_at_once() -> None:
    platform = replace(
        scale_platform(2, ("prod",)),
        environments=(Environment("prod", alerts={"Nope": AlertTuning(enabled=False), "TargetDown": AlertTuning(threshold=1)}),),
    )
    with pytest.raises(ModelError) as raised:
        render(platform, groups=["rules"])
    text = str(raised.value)
    assert "alerts[Nope]" in text and "alerts[TargetDown].threshold" in text
