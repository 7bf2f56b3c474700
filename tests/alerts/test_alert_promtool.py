"""The rendered rules pass promtool, and their tests are strict enough to catch a wrong rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from alert_platforms import small_platform

from obs.builder import build
from obs.checks import prometheus as prometheus_checks
from obs.checks import rules as rules_checks
from obs.tools import available

pytestmark = pytest.mark.skipif(not available("promtool"), reason="promtool not installed")

ENVS = ["prod", "staging", "dev"]


@pytest.mark.parametrize("env", ENVS)
def test_promtool_accepts_every_rule_file_and_the_config_that_loads_them(edu_out: Path, env: str) -> None:
    outcomes = list(rules_checks.check(edu_out / env)) + list(prometheus_checks.check(edu_out / env))
    assert len(outcomes) >= 12
    assert [o for o in outcomes if o.status != "passed"] == []


def _body(path: Path) -> bytes:
    # Past the generated header, which names the environment.
    return path.read_bytes().split(b"\n", 1)[1]


def _same_as_prod(out: Path, env: str, test_file: Path) -> bool:
    """A test file whose text and rule files equal prod's has the same outcome: run it once."""
    rel = test_file.relative_to(out / env)
    prod = out / "prod" / rel
    if not prod.exists() or _body(prod) != _body(test_file):
        return False
    loaded = yaml.safe_load(test_file.read_text())["rule_files"]
    return all(_body(test_file.parent / r) == _body(prod.parent / r) for r in loaded)


def test_every_generated_and_hand_written_promtool_test_passes_in_prod(edu_out: Path) -> None:
    outcomes = list(rules_checks.test(edu_out / "prod"))
    names = [o.name for o in outcomes]
    assert "promtool test rules prometheus/tests/handwritten/high_error_rate.test.yml" in names
    assert "promtool test rules prometheus/tests/slo-backend-availability.test.yml" in names
    failed = [f"{o.name}\n{o.detail}" for o in outcomes if o.status != "passed"]
    assert failed == []


@pytest.mark.parametrize("env", ["staging", "dev"])
def test_the_tests_that_differ_from_prod_pass_in_every_other_environment(edu_out: Path, env: str) -> None:
    differing = [p for p in rules_checks.test_files(edu_out / env) if not _same_as_prod(edu_out, env, p)]
    # Target instances and probe URLs differ by environment; the SLO tests do not.
    assert {p.name for p in differing} >= {"probes.test.yml"}
    assert "slo-backend-availability.test.yml" not in {p.name for p in differing}
    failed = [
        f"{o.name}\n{o.detail}"
        for p in differing
        if (o := rules_checks.run_test_file(edu_out / env, p)).status != "passed"
    ]
    assert failed == []


def test_a_small_platform_with_a_28_day_slo_passes_its_generated_tests(tmp_path: Path) -> None:
    build(small_platform(), tmp_path, environments=["prod"], groups=["prometheus", "rules"])
    failed = [f"{o.name}\n{o.detail}" for o in rules_checks.test(tmp_path / "prod") if o.status != "passed"]
    assert failed == []


@pytest.fixture
def prod_copy(edu_out: Path, tmp_path: Path) -> Path:
    shutil.copytree(edu_out / "prod", tmp_path / "prod")
    return tmp_path / "prod"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("file", "old", "new", "failing_test"),
    [
        # HighErrorRate at 50% instead of 5%: both its generated and its hand-written tests see it.
        ("custom.yml", "> 0.05\n", "> 0.5\n", "custom.test.yml"),
        ("custom.yml", "> 0.05\n", "> 0.5\n", "handwritten/high_error_rate.test.yml"),
        # The fast page's threshold halved: the slow burn (5x) would page from its first hours.
        (
            "slo-backend-availability.yml",
            'ratio_rate1h{service="backend", slo="availability"} / 0.001 > 14.4',
            'ratio_rate1h{service="backend", slo="availability"} / 0.001 > 4.4',
            "slo-backend-availability.test.yml",
        ),
        # The short window no longer confirms: the page would stay after the outage ended.
        (
            "slo-backend-availability.yml",
            'ratio_rate5m{service="backend", slo="availability"} / 0.001 > 14.4',
            'ratio_rate5m{service="backend", slo="availability"} / 0.001 > -1',
            "slo-backend-availability.test.yml",
        ),
        # The 6h page reading the 1d window instead: later, and longer.
        (
            "slo-backend-availability.yml",
            'slo:sli_error:ratio_rate6h{service="backend", slo="availability"} / 0.001 > 6',
            'slo:sli_error:ratio_rate1d{service="backend", slo="availability"} / 0.001 > 6',
            "slo-backend-availability.test.yml",
        ),
        # The budget-remaining recording off by 10%: the recordings' own case sees it.
        (
            "slo-backend-availability.yml",
            "expr: 1 - slo:sli_error:ratio_rate30d",
            "expr: 0.9 - slo:sli_error:ratio_rate30d",
            "slo-backend-availability.test.yml",
        ),
        # The low-traffic guard removed: isolated errors at night would page.
        (
            "slo-backend-latency.yml",
            "* 3600 > 2.5",
            "* 3600 > -1",
            "slo-backend-latency.test.yml",
        ),
        # A label the routing depends on, changed on the page.
        ("slo-backend-availability.yml", "severity: page", "severity: ticket", "slo-backend-availability.test.yml"),
        # `for` dropped: the blip case catches it.
        ("postgres.yml", "for: 2m", "for: 0s", "postgres.test.yml"),
        # A label the runbook routing depends on, changed.
        ("redis.yml", "team: platform", "team: web", "redis.test.yml"),
    ],
)
def test_the_generated_tests_fail_when_a_rule_is_wrong(
    prod_copy: Path, file: str, old: str, new: str, failing_test: str
) -> None:
    _edit(prod_copy / "prometheus" / "rules" / file, old, new)
    outcome = rules_checks.run_test_file(prod_copy, prod_copy / "prometheus" / "tests" / failing_test)
    assert outcome.status == "failed"
    assert "FAILED" in outcome.detail


def test_promtool_check_reports_a_broken_rule_file_with_its_own_message(prod_copy: Path) -> None:
    _edit(prod_copy / "prometheus" / "rules" / "node.yml", "predict_linear(", "predict_linear((")
    outcomes = {o.name: o for o in rules_checks.check(prod_copy)}
    broken = outcomes["promtool check rules prometheus/rules/node.yml"]
    assert broken.status == "failed"
    assert "could not parse expression" in broken.detail


def test_generated_test_files_count_their_cases(edu_out: Path) -> None:
    cases = sum(len(yaml.safe_load(p.read_text())["tests"]) for p in rules_checks.test_files(edu_out / "prod"))
    # 45 alerts in prod, each with a firing and at least one silent case; shared SLO cases run once.
    assert cases >= 130
