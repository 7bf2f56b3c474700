"""promtool plays the generated incidents against the rendered SLO rules: they pass as rendered,
and a wrong rule fails with the incident and its expected timeline in promtool's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs.builder import build
from obs.checks import rules as rules_checks
from obs.tools import available
from tests.alerts.alert_platforms import small_platform

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not available("promtool"), reason="promtool not installed")]


@pytest.fixture(scope="module")
def shop_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    build(small_platform(), out, environments=["prod"], groups=["prometheus", "rules"])
    return out / "prod"


def test_the_incidents_pass_against_the_rules_as_rendered(shop_out: Path) -> None:
    path = shop_out / "prometheus" / "tests" / "slo-shop-availability.test.yml"
    assert "short total outage" in path.read_text()
    outcome = rules_checks.run_test_file(shop_out, path)
    assert outcome.status == "passed", outcome.detail


def test_a_failing_incident_prints_its_name_and_timeline(shop_out: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "prod"
    shutil.copytree(shop_out, copy)
    rules = copy / "prometheus" / "rules" / "slo-shop-availability.yml"
    # The fast page forgets its short window: it stays open after the outage.
    text = rules.read_text()
    old = 'slo:sli_error:ratio_rate5m{service="shop", slo="availability"} / 0.001 > 14.4'
    assert old in text
    rules.write_text(text.replace(old, 'slo:sli_error:ratio_rate5m{service="shop", slo="availability"} / 0.001 > -1'))
    outcome = rules_checks.run_test_file(copy, copy / "prometheus" / "tests" / "slo-shop-availability.test.yml")
    assert outcome.status == "failed"
    assert "name: ErrorBudgetBurn [shop/availability]: short total outage (every request failing for 4m): page +5m to +50m" in outcome.detail
