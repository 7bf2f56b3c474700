"""The `obs` command through a real subprocess: outputs and documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "platforms"
EDU = str(Path(__file__).parents[2] / "edu_platform.py")


def obs(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obs", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_build_writes_the_tree_and_reports_each_group(tmp_path: Path) -> None:
    proc = obs("build", "--platform", EDU, "--only", "prometheus", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build/prod/prometheus/prometheus.yml").is_file()
    assert "  prod     prometheus        1 file" in proc.stderr
    assert proc.stdout.strip() == "built 3 files for prod, staging, dev into build/"


def test_quiet_json_output_for_ci(tmp_path: Path) -> None:
    proc = obs(
        "build",
        "--platform",
        EDU,
        "--only",
        "prometheus",
        "--env",
        "dev",
        "--quiet",
        "--format",
        "json",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["environments"] == ["dev"]
    assert "dev/prometheus/prometheus.yml" in data["files"]


def test_an_invalid_platform_exits_3_with_the_path_and_writes_nothing(tmp_path: Path) -> None:
    proc = obs("build", "--platform", str(HERE / "bad_objective.yaml"), cwd=tmp_path)
    assert proc.returncode == 3
    assert (
        "services[bridge].slos[availability].objective: 1.2 must be between 0 and 1 (e.g. 0.999)"
        in proc.stderr
    )
    assert "nothing was written" in proc.stderr
    assert not (tmp_path / "build").exists()


def test_a_wrong_command_line_exits_2(tmp_path: Path) -> None:
    assert obs("build", "--only", "nonsense", cwd=tmp_path).returncode == 2
    assert obs("frobnicate", cwd=tmp_path).returncode == 2


def test_diff_exits_1_when_the_output_is_stale_and_0_when_fresh(tmp_path: Path) -> None:
    assert obs("build", "--platform", EDU, "--only", "prometheus", "-q", cwd=tmp_path).returncode == 0
    assert obs("diff", "--platform", EDU, "--only", "prometheus", cwd=tmp_path).returncode == 0
    target = tmp_path / "build/prod/prometheus/prometheus.yml"
    target.write_text(target.read_text().replace("scrape_interval: 30s", "scrape_interval: 1m"))
    proc = obs("diff", "--platform", EDU, "--only", "prometheus", cwd=tmp_path)
    assert proc.returncode == 1
    assert "-  scrape_interval: 1m" in proc.stdout and "+  scrape_interval: 30s" in proc.stdout


def test_list_shows_what_would_be_generated_without_writing(tmp_path: Path) -> None:
    proc = obs("list", "--only", "prometheus", "--platform", str(HERE / "good.yaml"), cwd=tmp_path)
    assert proc.returncode == 0
    assert "  prod/prometheus/prometheus.yml" in proc.stdout.splitlines()
    assert not (tmp_path / "build").exists()


def test_schema_prints_a_json_schema(tmp_path: Path) -> None:
    proc = obs("schema", cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["title"] == "obs platform"


@pytest.mark.parametrize("tool_var", ["OBS_PROMTOOL"])
def test_check_says_what_it_skipped_and_why(tmp_path: Path, tool_var: str) -> None:
    env = {"PATH": "/nonexistent", tool_var: ""}
    proc = subprocess.run(
        [sys.executable, "-m", "obs", "check", "--platform", EDU, "--only", "prometheus", "--env", "dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "0 passed, 0 failed, 1 skipped" in proc.stdout
    assert (
        "promtool not found on PATH and no Docker engine answers: apt-get install -y prometheus"
        in proc.stdout
    )
    strict = subprocess.run(
        [sys.executable, "-m", "obs", "check", "--strict", "--only", "prometheus", "--env", "dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert strict.returncode == 1
