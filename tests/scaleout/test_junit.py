"""``obs test --junit``: one JUnit test case per promtool case, failures with promtool's words."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from obs.cli import main
from obs.cli.junit import case_names, failed_cases, junit_xml

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (apt-get install -y prometheus)")

RULES = """\
groups:
- name: g
  rules:
  - alert: QueueSlow
    expr: queue_seconds > 1
    labels: {severity: page}
  - record: queue:doubled
    expr: queue_seconds * 2
"""
TESTS = """\
rule_files: [../rules/custom.yml]
evaluation_interval: 1m
tests:
  - name: slow queue pages
    interval: 1m
    input_series: [{series: 'queue_seconds', values: '5x5'}]
    alert_rule_test:
      - {eval_time: 2m, alertname: QueueSlow, exp_alerts: [{exp_labels: {severity: ticket}}]}
  - name: quiet queue
    interval: 1m
    input_series: [{series: 'queue_seconds', values: '0x5'}]
    alert_rule_test:
      - {eval_time: 2m, alertname: QueueSlow, exp_alerts: []}
  - interval: 1m
    input_series: [{series: 'queue_seconds', values: '1x5'}]
    promql_expr_test:
      - {expr: 'queue:doubled', eval_time: 1m, exp_samples: [{labels: 'queue:doubled', value: 3}]}
"""


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    env = tmp_path / "build" / "prod"
    (env / "prometheus" / "rules").mkdir(parents=True)
    (env / "prometheus" / "tests").mkdir()
    (env / "prometheus" / "rules" / "custom.yml").write_text(RULES)
    (env / "prometheus" / "tests" / "custom.test.yml").write_text(TESTS)
    return env


def _promtool(env_dir: Path) -> str:
    done = subprocess.run(["promtool", "test", "rules", "custom.test.yml"], cwd=env_dir / "prometheus" / "tests", capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    return (done.stdout + done.stderr).strip()


@needs_promtool
def test_promtools_failures_are_read_per_case(env_dir: Path) -> None:
    failures = failed_cases(_promtool(env_dir))
    assert set(failures) == {"slow queue pages", "unnamed case (failure 1)"}
    assert 'severity="page"' in failures["slow queue pages"] and "exp:" in failures["slow queue pages"]
    assert 'expr: "queue:doubled"' in failures["unnamed case (failure 1)"]
    assert case_names(env_dir / "prometheus" / "tests" / "custom.test.yml") == ["slow queue pages", "quiet queue", "unnamed case 3"]


@needs_promtool
def test_every_case_is_a_test_case(env_dir: Path) -> None:
    record = {"environment": "prod", "group": "rules", "name": "promtool test rules prometheus/tests/custom.test.yml", "status": "failed", "detail": _promtool(env_dir)}
    passing = {"environment": "prod", "group": "amtool", "name": "amtool config routes test", "status": "passed", "detail": ""}
    root = ET.fromstring(junit_xml([record, passing], env_dir.parent))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("prod.rules.custom", "slow queue pages"),
        ("prod.rules.custom", "quiet queue"),
        ("prod.rules.custom", "unnamed case (failure 1)"),
        ("prod.amtool", "amtool config routes test"),
    }
    failure = cases[("prod.rules.custom", "slow queue pages")].find("failure")
    assert failure is not None and failure.get("message") == "alertname: QueueSlow, time: 2m,"
    assert cases[("prod.rules.custom", "quiet queue")].find("failure") is None
    assert (root.get("tests"), root.get("failures")) == ("4", "2")
    # Without the build folder, the failures are still one case each.
    root = ET.fromstring(junit_xml([record]))
    assert sorted(c.get("name", "") for c in root.iter("testcase")) == ["slow queue pages", "unnamed case (failure 1)"]


def test_a_file_that_does_not_load_is_one_failed_case() -> None:
    record = {"environment": "dev", "group": "rules", "name": "promtool test rules prometheus/tests/x.test.yml", "status": "failed",
              "detail": "Unit Testing:  x.test.yml\n  FAILED:\n yaml: unmarshal errors"}  # fmt: skip
    (case,) = ET.fromstring(junit_xml([record])).iter("testcase")
    assert case.get("name") == "prometheus/tests/x.test.yml" and case.find("failure") is not None


@needs_promtool
def test_obs_test_writes_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    platform = tmp_path / "platform.py"
    platform.write_text("from tests.scaleout.platforms import shop\nplatform = shop()\n")
    report = tmp_path / "reports" / "junit.xml"
    code = main(["test", "--platform", str(platform), "--out", str(tmp_path / "build"), "--env", "dev", "--only", "rules", "--junit", str(report), "-q"])
    capsys.readouterr()
    assert code == 0
    root = ET.parse(report).getroot()
    names = [c.get("name") for c in root.iter("testcase")]
    assert names and root.get("failures") == "0"
    assert any("slo-api-availability" in (c.get("classname") or "") + (c.get("name") or "") for c in root.iter("testcase"))
