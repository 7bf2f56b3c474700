"""Generated promtool tests grow with the number of services, not with its square: one set of
cases per alert template (every member's series side by side), SLO files of one shape cut to their
wiring, each test file loading only the rules it tests; and they still catch a wrong rule."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.bench_scale import scale_platform
from obs.builder import render
from obs.checks import rules as rules_checks
from obs.model import Platform
from obs.rules.rulefile import members_label
from obs.tools import available

needs_promtool = pytest.mark.skipif(not available("promtool"), reason="promtool not installed")


def _tests(out: Path, env: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((out / env / "prometheus" / "tests" / f"{name}.test.yml").read_text())
    return loaded


def _sizes(services: int) -> dict[str, int]:
    """Bytes of each rules and tests file of prod, for a generated platform of ``services``."""
    result = render(scale_platform(services, ("prod",)), groups=["rules"])
    return {path.split("/", 1)[1]: len(data) for path, data in result.files.items()}


def test_rule_tests_grow_linearly_with_the_services() -> None:
    small, large = _sizes(10), _sizes(40)
    for name in ("prometheus/tests/targets.test.yml", "prometheus/tests/services.test.yml"):
        per_service = (large[name] / 40) / (small[name] / 10)
        assert per_service < 1.2, f"{name}: {per_service:.2f}x the bytes per service at 40 services"
    tests = lambda sizes: sum(v for k, v in sizes.items() if "/tests/" in k)  # noqa: E731
    assert (tests(large) / 40) / (tests(small) / 10) < 1.2


def test_metrics_absent_cases_hold_each_job_once(twelve_out: Path) -> None:
    document = _tests(twelve_out, "prod", "targets")
    absent = [t for t in document["tests"] if t["name"].startswith("MetricsAbsent")]
    assert [t["name"].split(": ", 1)[1] for t in absent] == [
        "no up series for 20m",
        "healthy: the target is scraped",
        "blip: missing for a while after a reload, shorter than for",
    ]
    jobs = {e["exp_labels"]["job"] for e in absent[0]["alert_rule_test"][-1]["exp_alerts"]}
    assert len(jobs) == 12 + 2 + 3  # services, the two exporters, node, Prometheus, Alertmanager
    assert absent[0]["input_series"] == []
    for case in absent[1:]:
        series = [s["series"] for s in case["input_series"]]
        assert len(series) == len(set(series)) == len(jobs)


def test_a_template_runs_each_case_once_for_every_member(twelve_out: Path) -> None:
    document = _tests(twelve_out, "prod", "targets")
    down = [t for t in document["tests"] if t["name"].startswith("TargetDown")]
    assert [t["name"] for t in down] == [
        "TargetDown [svc0000, svc0001, svc0002 and 14 more]: fires",
        "TargetDown [svc0000, svc0001, svc0002 and 14 more]: healthy",
        "TargetDown [svc0000, svc0001, svc0002 and 14 more]: blip shorter than for",
    ]
    fired = down[0]["alert_rule_test"][-1]["exp_alerts"]
    assert {(e["exp_labels"]["job"], e["exp_labels"]["team"]) for e in fired} >= {("svc0000", "team000"), ("svc0011", "team000"), ("postgres", "platform")}


def test_each_test_file_loads_only_the_rules_it_tests(twelve_out: Path) -> None:
    for path in rules_checks.test_files(twelve_out / "prod"):
        document = yaml.safe_load(path.read_text())
        assert document["rule_files"] == [f"../rules/{path.name.removesuffix('.test.yml')}.yml"], path.name


def test_slo_files_of_one_shape_keep_only_their_wiring(twelve_out: Path) -> None:
    full: set[str] = set()
    templates: dict[str, str] = {}
    for i in range(12):
        for slo in ("availability", "latency"):
            name = f"slo-svc{i:04d}-{slo}"
            cases = _tests(twelve_out, "prod", name)["tests"]
            wiring = [c["name"].rsplit("(wiring; every case runs in ", 1)[-1].removesuffix(".test.yml)") for c in cases if "(wiring;" in c["name"]]
            if not wiring:
                full.add(name)
                assert len(cases) > 4, name
            else:
                assert len(cases) == len(wiring) == 2, name
                templates[name] = wiring[0]
    # The first service's SLOs run every case; the others' point at a file that does.
    assert {"slo-svc0000-availability", "slo-svc0000-latency"} <= full
    assert len(full) <= 4 < len(templates)
    assert set(templates.values()) <= full


def test_files_whose_rules_differ_beyond_the_names_are_tested_in_full() -> None:
    from obs.model import SLO, AvailabilitySLI

    base = scale_platform(3, ("prod",))
    looser = base.services[2].__class__(**{**_fields(base.services[2]), "slos": (SLO("availability", AvailabilitySLI(), objective=0.99),)})
    platform = Platform(**{**_fields(base), "services": (*base.services[:2], looser)})
    files = render(platform, groups=["rules"]).files
    text = files["prod/prometheus/tests/slo-svc0002-availability.test.yml"].decode()
    assert "wiring" not in text  # 0.99, not 0.999: a shape of its own


def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


def test_members_are_named_up_to_three() -> None:
    from obs.alerting import Alert

    def alert(service: str) -> Alert:
        return Alert("X", "up == 0", "ticket", service, "t", "s", "d", "https://r.example.org", "https://g.example.org")  # type: ignore[arg-type]

    assert members_label([alert("a"), alert("b")]) == "a, b"
    assert members_label([alert(c) for c in "abcde"]) == "a, b, c and 2 more"


@needs_promtool
def test_every_generated_test_of_the_scale_platform_passes(twelve_out: Path) -> None:
    failed = [f"{o.name}\n{o.detail}" for o in rules_checks.test(twelve_out / "prod") if o.status != "passed"]
    assert failed == []


@pytest.fixture
def prod_copy(twelve_out: Path, tmp_path: Path) -> Path:
    shutil.copytree(twelve_out / "prod", tmp_path / "prod")
    return tmp_path / "prod"


@needs_promtool
@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        # One member of the merged TargetDown cases loses its `for`: the blip case sees it.
        ("targets", 'expr: up{job="svc0007"} == 0\n    for: 5m', 'expr: up{job="svc0007"} == 0\n    for: 0s'),
        # One member selects another job's series: every case's labels see it.
        ("targets", 'expr: up{job="svc0005"} == 0', 'expr: up{job="svc0004"} == 0'),
        # One member's latency threshold raised: the merged firing case no longer fires for it.
        ("services", '{service="svc0009"}[5m]))) > 0.3', '{service="svc0009"}[5m]))) > 3'),
    ],
)
def test_a_wrong_rule_of_one_member_fails_the_merged_cases(prod_copy: Path, file: str, old: str, new: str) -> None:
    path = prod_copy / "prometheus" / "rules" / f"{file}.yml"
    text = path.read_text()
    if old not in text:
        pytest.fail(f"{old!r} not in {file}.yml:\n{text[:3000]}")
    path.write_text(text.replace(old, new, 1))
    outcome = rules_checks.run_test_file(prod_copy, prod_copy / "prometheus" / "tests" / f"{file}.test.yml")
    assert outcome.status == "failed"
    assert "FAILED" in outcome.detail
