"""Checks of the exporters' configuration: blackbox_exporter --config.check and the postgres queries' metrics."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.renderers.exporters import BLACKBOX_PATH, blackbox_problems, undeclared_metrics
from obs.tools import run_tool


def blackbox_config_check(path: Path) -> Outcome:
    """``blackbox_exporter --config.check`` on ``path`` (skipped when the tool cannot run)."""
    name = "blackbox_exporter --config.check"
    try:
        result = run_tool(
            "blackbox_exporter", ["--config.check", f"--config.file={path.name}"], cwd=path.parent, timeout=30
        )
    except ToolNotFoundError as exc:
        return Outcome(name, "skipped", str(exc))
    return Outcome(name, "passed" if result.ok else "failed", result.output)


def check(env_dir: Path) -> Iterable[Outcome]:
    yield blackbox_config_check(env_dir / BLACKBOX_PATH)
    try:
        problems = blackbox_problems(yaml.safe_load((env_dir / BLACKBOX_PATH).read_text()) or {})
    except (OSError, yaml.YAMLError) as exc:
        problems = [str(exc)]
    yield Outcome(
        "blackbox modules use known probers", "failed" if problems else "passed", "\n".join(problems)
    )
    missing = undeclared_metrics()
    yield Outcome(
        "postgres custom queries produce only declared metrics",
        "failed" if missing else "passed",
        ", ".join(missing),
    )


__all__ = ["blackbox_config_check", "check"]
