"""``obs diff --base``: what a change does to the stack, by meaning, per environment."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.builder import render
from obs.cli import main
from obs.model import Service, Team
from obs.review import Change, as_markdown, as_text, review
from tests.scaleout.platforms import VM, shop

REPO = Path(__file__).parents[2]


def _review(old: Any, new: Any, envs: list[str] | None = None) -> Any:
    envs = envs or ["prod"]
    return review(render(old, envs).files, render(new, envs).files, envs)


def _section(result: Any, title: str, env: str = "prod") -> list[Change]:
    (found,) = [e for e in result.environments if e.environment == env]
    return list(found.sections[title])


def _names(changes: list[Change], kind: str) -> set[str]:
    return {c.name for c in changes if c.kind == kind}


def test_the_same_platform_changes_nothing() -> None:
    result = _review(shop(), shop())
    assert not result.changed
    assert as_text(result, "main") == "no change against main"
    assert "No change to any generated file." in as_markdown(result, "main")


def _rules_file(**fields: Any) -> bytes:
    rule = {"alert": "QueueSlow", "expr": "queue_seconds > 5", "for": "5m", "labels": {"severity": "ticket", "service": "api"},
            "annotations": {"summary": "queue slow"}, **fields}  # fmt: skip
    return yaml.safe_dump({"groups": [{"name": "shop-custom", "rules": [rule]}]}).encode()


def test_a_changed_alert_shows_old_and_new_expression_for_labels_and_annotations() -> None:
    base = {"prod/prometheus/rules/custom.yml": _rules_file(), "dev/prometheus/rules/custom.yml": _rules_file()}
    head = {
        "prod/prometheus/rules/custom.yml": _rules_file(
            expr="queue_seconds > 10", **{"for": "15m"}, labels={"severity": "page", "service": "api"}, annotations={"summary": "queue very slow"}
        ),
        "dev/prometheus/rules/custom.yml": _rules_file(),
    }  # fmt: skip
    result = review(base, head)
    (change,) = _section(result, "Alerts")
    assert (change.kind, change.what, change.name) == ("changed", "alert", "QueueSlow (shop-custom)")
    assert change.details == (
        ("expr", "queue_seconds > 5", "queue_seconds > 10"),
        ("for", "5m", "15m"),
        ("labels", "service=api, severity=ticket", "service=api, severity=page"),
        ("annotations.summary", "queue slow", "queue very slow"),
    )
    assert not _section(result, "Alerts", "dev")
    text = as_text(result, "main")
    assert "prod: 1 change against main" in text and "dev: no change" in text
    assert "        expr: queue_seconds > 5 -> queue_seconds > 10" in text


def test_a_new_service_adds_its_alerts_dashboard_and_scrape_job() -> None:
    web = Service(name="web", kind="flask", team="core", port=5000)  # type: ignore[arg-type]
    result = _review(shop(), dataclasses.replace(shop(), services=(*shop().services, web)))
    assert {"LatencyP99High (shop-service-web)", "TargetDown (shop-targets, service=web)"} <= _names(_section(result, "Alerts"), "added")
    assert "shop / web (obs-svc-web)" in _names(_section(result, "Dashboards"), "added")
    assert _names(_section(result, "Scrape jobs"), "added") == {"web"}
    # Matched by what tells them apart, the other targets' alerts did not change.
    assert not [c for c in _section(result, "Alerts") if c.kind == "changed"]


def test_a_removed_dependency_removes_its_alerts_and_job() -> None:
    result = _review(shop(), dataclasses.replace(shop(), dependencies=(), services=(dataclasses.replace(shop().services[0], depends_on=()),)))
    assert "db" in _names(_section(result, "Scrape jobs"), "removed")
    assert any(name.startswith("PostgresDown") or "postgres" in name for name in _names(_section(result, "Alerts"), "removed"))


def test_a_new_team_receiver_and_its_routes() -> None:
    ops = Team("ops", chat_channel="#ops", chat_webhook_url_file="/run/secrets/ops-chat")
    moved = dataclasses.replace(shop().services[0], team="ops")
    result = _review(shop(), dataclasses.replace(shop(), teams=(*shop().teams, ops), services=(moved,)))
    routing = _section(result, "Alertmanager")
    assert any(c.what == "receiver" and c.kind == "added" and "ops" in c.name for c in routing)
    assert any(c.what == "route" and c.kind == "added" and "ops" in c.name for c in routing)


def test_a_metrics_store_moves_the_slo_rules_to_its_ruler() -> None:
    result = _review(shop(), shop(VM))
    placement = _section(result, "Rule placement")
    (moved,) = [c for c in placement if c.what == "rule file"]
    assert moved.name == "slo-api-availability.yml"
    assert moved.details == (("runs in", "local Prometheus", "metrics store's ruler"),)
    assert {c.name for c in _section(result, "Prometheus settings")} >= {"remote_write", "rule_files", "global"}


def test_log_retention_is_a_pipeline_change() -> None:
    result = _review(shop(), dataclasses.replace(shop(), log_retention_days={"access": 3}))
    pipelines = _section(result, "Pipelines")
    assert pipelines and all(c.what == "file" for c in pipelines)
    assert any(c.name.startswith("elasticsearch/") for c in pipelines)


def test_markdown_is_a_pull_request_comment() -> None:
    web = Service(name="web", kind="flask", team="core", port=5000)  # type: ignore[arg-type]
    result = _review(shop(), dataclasses.replace(shop(), services=(*shop().services, web)))
    text = as_markdown(result, "origin/main")
    assert text.startswith("## obs: what this change does to the stack (against `origin/main`)")
    assert "### prod" in text and "<details open><summary>Alerts:" in text and "| added | scrape job | web | | |" in text
    # A | inside a cell is escaped, or the table breaks.
    assert all(line.count("|") - line.count("\\|") == 6 for line in text.splitlines() if line.startswith("| "))
    short = as_markdown(result, "origin/main", limit=1500)
    assert len(short) < 1800 and "cut to fit a comment" in short


# --- the command line ------------------------------------------------------------------------------------


@pytest.fixture
def platform_file(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "obs.yaml"
    path.parent.mkdir()
    path.write_text(
        "name: shop\n"
        "infra_team: core\n"
        "runbook_base_url: https://runbooks.example.org\n"
        "teams: [{name: core, chat_channel: '#core', chat_webhook_url_file: /run/secrets/core-chat}]\n"
        "services:\n"
        "  - {name: api, kind: fastapi, team: core, port: 8000,\n"
        "     slos: [{name: availability, sli: {type: availability}, objective: 0.999}]}\n"
        "environments: [{name: prod}]\n"
    )
    return path


def _obs(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_diff_against_a_build_folder(platform_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base"
    assert _obs("build", "--platform", str(platform_file), "--out", str(base), "-q", capsys=capsys)[0] == 0
    code, out, _ = _obs("diff", "--platform", str(platform_file), "--base", str(base), capsys=capsys)
    assert (code, out.strip()) == (0, f"no change against {base}")
    platform_file.write_text(platform_file.read_text().replace("objective: 0.999", "objective: 0.99"))
    code, out, _ = _obs("diff", "--platform", str(platform_file), "--base", str(base), capsys=capsys)
    assert code == 1
    # The error budget (1 - objective) is in the burn-rate rules: 0.001 before, 0.01 after.
    assert "prod:" in out and "~ alert ErrorBudgetBurn (shop-slo-" in out
    assert "/ 0.001 > " in out and "/ 0.01 > " in out  # the old and the new expression, both shown
    code, out, _ = _obs("diff", "--platform", str(platform_file), "--base", str(base), "--format", "json", capsys=capsys)
    data = json.loads(out)
    assert code == 1 and data["changed"] is True and data["ok"] is False and "Recording rules" in data["environments"]["prod"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "markdown"], 2, "--format markdown summarises a change: give --base"),
        (["--base", "no-such-ref-or-folder"], 3, "--base no-such-ref-or-folder: neither a folder nor a commit"),
    ],
)
def test_diff_refuses(platform_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str) -> None:
    subprocess.run(["git", "init", "-q", str(platform_file.parent)], check=True)
    got, _, err = _obs("diff", "--platform", str(platform_file), *args, capsys=capsys)
    assert got == code and message in err


def test_an_empty_folder_is_no_base(platform_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _obs("diff", "--platform", str(platform_file), "--base", str(tmp_path / "empty"), capsys=capsys)
    assert code == 3 and "not an obs build folder (no manifest.json)" in err


@pytest.mark.skipif(not shutil.which("git"), reason="git not installed")
def test_diff_against_a_git_ref_builds_it_aside(
    platform_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    project = platform_file.parent
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run([*git, "add", "obs.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    platform_file.write_text(platform_file.read_text().replace("port: 8000", "port: 8000, tier: 1,\n     description: the api"))
    platform_file.write_text(platform_file.read_text().replace("objective: 0.999", "objective: 0.995"))
    (project / "build").mkdir()
    (project / "build" / "keep.txt").write_text("the user's")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the base is built by the obs under test
    code, out, err = _obs("diff", "--base", "HEAD", "--format", "markdown", capsys=capsys)
    assert code == 1, err
    assert out.startswith("## obs: what this change does to the stack (against `HEAD`)")
    burn = [line for line in out.splitlines() if line.startswith("| changed | alert | ErrorBudgetBurn (shop-slo-") and "(expr)" in line]
    assert burn and all("/ 0.001" in line.split(" | ")[3] and "/ 0.005" in line.split(" | ")[4] for line in burn), burn
    assert "building the platform at HEAD (git archive)" in err
    assert [p.name for p in (project / "build").iterdir()] == ["keep.txt"]  # the user's build folder is untouched
    worktrees = subprocess.run([*git, "worktree", "list"], capture_output=True, text=True, check=True).stdout
    assert len(worktrees.splitlines()) == 1
