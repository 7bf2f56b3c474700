"""The model's tuning reaches the alerts of the on-call area, and their generated tests follow."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from obs.builder import build, render
from obs.checks import rules as rules_checks
from obs.errors import ModelError
from obs.model import AlertTuning, Environment, Platform
from obs.tools import available
from tests.alerts.alert_platforms import small_platform


def tuned(**tunings: AlertTuning) -> Platform:
    shop = small_platform()
    return dataclasses.replace(shop, services=(dataclasses.replace(shop.services[0], alerts=tunings),))


def burn_alerts(platform: Platform, slo: str = "availability") -> list[dict[str, object]]:
    text = render(platform, ["prod"], ["prometheus", "rules"]).files[f"prod/prometheus/rules/slo-shop-{slo}.yml"]
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if r.get("alert") == "ErrorBudgetBurn"]


def test_one_severity_for_every_row_makes_one_alert() -> None:
    (alert,) = burn_alerts(tuned(ErrorBudgetBurn=AlertTuning(severity="ticket")))
    assert alert["labels"]["severity"] == "ticket"  # type: ignore[index]
    assert str(alert["expr"]).count("\nor on (service, slo)\n") == 3


def test_a_burn_rate_alert_switched_off_keeps_its_recordings() -> None:
    platform = tuned(ErrorBudgetBurn=AlertTuning(enabled=False))
    assert burn_alerts(platform) == []
    text = render(platform, ["prod"], ["prometheus", "rules"]).files["prod/prometheus/rules/slo-shop-availability.yml"].decode()
    assert "record: slo:period_error_budget_remaining:ratio" in text


def test_a_burn_rate_alert_has_no_threshold_to_tune() -> None:
    with pytest.raises(ModelError, match=r"ErrorBudgetBurn.*threshold"):
        render(tuned(ErrorBudgetBurn=AlertTuning(threshold=2)), ["prod"], ["prometheus", "rules"])


def test_service_down_follows_the_environments_tuning() -> None:
    shop = small_platform()
    quiet = dataclasses.replace(shop, environments=(Environment("prod", alerts={"ServiceDown": AlertTuning(severity="ticket", for_="5m")}),))
    text = render(quiet, ["prod"], ["prometheus", "rules"]).files["prod/prometheus/rules/services.yml"]
    (down,) = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if r.get("alert") == "ServiceDown"]
    assert down["labels"]["severity"] == "ticket" and down["for"] == "5m"


@pytest.mark.slow
@pytest.mark.skipif(not available("promtool"), reason="promtool not installed")
def test_the_generated_tests_follow_a_tuned_for(tmp_path: Path) -> None:
    platform = tuned(ErrorBudgetBurn=AlertTuning(for_="1h"), ServiceDown=AlertTuning(for_="3m"))
    build(platform, tmp_path, environments=["prod"], groups=["prometheus", "rules"])
    env = tmp_path / "prod"
    rules = yaml.safe_load((env / "prometheus" / "rules" / "slo-shop-availability.yml").read_text())
    assert {r["for"] for g in rules["groups"] for r in g["rules"] if r.get("alert")} == {"1h"}
    for name in ("slo-shop-availability", "services"):
        outcome = rules_checks.run_test_file(env, env / "prometheus" / "tests" / f"{name}.test.yml")
        assert outcome.status == "passed", outcome.detail
