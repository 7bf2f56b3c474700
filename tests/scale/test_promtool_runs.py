"""``obs check`` and ``obs test`` over many rule files: promtool runs in parallel, a file past its
time budget is a timeout with its name (never a failed rule, and named under --quiet too), files
identical to another environment's are not run twice, and progress shows per environment and group
with counts on a terminal and stays quiet under --quiet and --format json."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.bench_scale import scale_platform
from obs.builder import build
from obs.checks import rules as rules_checks
from obs.tools import available

pytestmark = pytest.mark.skipif(not available("promtool"), reason="promtool not installed")


#: Seconds each test file may take in the timeout tests: far more than any real one needs here.
BUDGET = "15"


def _obs(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obs", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def quick_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three services without SLOs, prod only: every test file runs in seconds."""
    platform = scale_platform(3, ("prod",))
    platform = replace(platform, services=tuple(replace(s, slos=()) for s in platform.services))
    out = tmp_path_factory.mktemp("quick") / "build"
    build(platform, out, groups=["prometheus", "rules"])
    return out


@pytest.fixture
def slow_promtool(tmp_path: Path) -> str:
    """A promtool that hangs on targets.test.yml and is the real one otherwise."""
    script = tmp_path / "promtool"
    script.write_text(f'#!/bin/sh\ncase "$*" in *targets.test.yml*) exec sleep 300;; esac\nexec {shutil.which("promtool")} "$@"\n')
    script.chmod(0o755)
    return str(script)


def test_a_file_out_of_time_is_a_timeout_named_even_under_quiet(quick_out: Path, slow_promtool: str) -> None:
    env = {"OBS_PROMTOOL": slow_promtool, "OBS_PROMTOOL_TIMEOUT": BUDGET}
    done = _obs("test", "--out", str(quick_out), "--only", "rules", "--quiet", env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("tests: ") and lines[0].endswith(" passed, 0 failed, 1 timed out")
    assert lines[1:] == ["  timed out: prod rules promtool test rules prometheus/tests/targets.test.yml"]


def test_a_timeout_is_counted_apart_in_json_and_says_what_to_do(quick_out: Path, slow_promtool: str) -> None:
    env = {"OBS_PROMTOOL": slow_promtool, "OBS_PROMTOOL_TIMEOUT": BUDGET}
    done = _obs("test", "--out", str(quick_out), "--only", "rules", "--format", "json", env=env)
    result = json.loads(done.stdout)
    assert (result["ok"], result["failed"], result["timed_out"]) == (False, 0, 1)
    (record,) = [r for r in result["outcomes"] if r["status"] != "passed"]
    assert record["name"] == "promtool test rules prometheus/tests/targets.test.yml"
    assert record["detail"].startswith(f"timed out after {BUDGET} s: promtool did not finish this file within its time budget, so no rule in it was found wrong")


def test_a_budget_that_is_not_a_number_is_refused_with_the_variable_named(twelve_out: Path) -> None:
    done = _obs("test", "--out", str(twelve_out), "--only", "rules", env={"OBS_PROMTOOL_TIMEOUT": "soon"})
    assert done.returncode == 4
    assert "OBS_PROMTOOL_TIMEOUT='soon' is not a number of seconds" in done.stderr


def test_files_another_environment_already_ran_are_not_run_again(twelve_out: Path) -> None:
    done = _obs("test", "--out", str(twelve_out), "--only", "rules", "--format", "json")
    result = json.loads(done.stdout)
    assert result["ok"], [r for r in result["outcomes"] if r["status"] != "passed"]
    staging = {r["name"]: r["detail"] for r in result["outcomes"] if r["environment"] == "staging"}
    name = "promtool test rules prometheus/tests/slo-svc0003-latency.test.yml"
    assert staging[name].startswith("same files as prod/prometheus/tests/slo-svc0003-latency.test.yml: its outcome")
    # Every file runs in prod; staging differs only by its header.
    assert all(d.startswith("same files as prod/") for d in staging.values())


def test_check_rules_in_batches_names_the_one_broken_file(twelve_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prod = tmp_path / "prod"
    shutil.copytree(twelve_out / "prod", prod)
    broken = prod / "prometheus" / "rules" / "slo-svc0004-latency.yml"
    broken.write_text(broken.read_text().replace("sum(", "sum((", 1))
    monkeypatch.setattr(rules_checks, "CHECK_BATCH", 5)
    outcomes = list(rules_checks.check(prod))
    assert len(outcomes) == len(list((prod / "prometheus" / "rules").glob("*.yml")))
    failed = {o.name: o.detail for o in outcomes if o.status != "passed"}
    assert list(failed) == ["promtool check rules prometheus/rules/slo-svc0004-latency.yml"]
    assert "slo-svc0004-latency.yml:" in failed["promtool check rules prometheus/rules/slo-svc0004-latency.yml"]


def test_check_and_test_say_per_environment_and_group_how_many_passed_and_how_long_each_took(twelve_out: Path) -> None:
    done = _obs("check", "--strict", "--out", str(twelve_out), "--only", "rules")
    assert done.returncode == 0, done.stderr
    rules = len(list((twelve_out / "prod" / "prometheus" / "rules").glob("*.yml")))
    lines = done.stderr.splitlines()
    for env in ("prod", "staging"):
        assert any(line.startswith(f"  {env:<8} rules {' ' * 10}{rules:>4} checks: {rules} passed, 0 failed (") for line in lines), lines
    assert lines[-1].startswith("time: rules ")
    assert done.stdout == f"checks: {2 * rules} passed, 0 failed\n"


@pytest.mark.parametrize("flags", [["--quiet"], ["--format", "json"]])
def test_check_says_nothing_on_stderr_when_asked_to_be_quiet(twelve_out: Path, flags: list[str]) -> None:
    done = _obs("check", "--out", str(twelve_out), "--only", "rules", *flags)
    assert done.returncode == 0
    assert done.stderr == ""


def test_on_a_terminal_one_status_line_counts_the_files_as_they_finish(quick_out: Path) -> None:
    # stderr on a pseudo-terminal, as in an interactive shell.
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "obs", "test", "--out", str(quick_out), "--only", "rules"], stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "\r\x1b[K  prod     rules           " in text
    assert " done: " in text and " passed, 0 failed" in text
    assert "time: rules " in text
