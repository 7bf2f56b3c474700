"""promtool check config on the written Prometheus configuration."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.render.prometheus import CONFIG_PATH
from obs.tools import run_tool


def check(env_dir: Path) -> Iterable[Outcome]:
    """`promtool check config` (which also checks the rule files the config names)."""
    path = env_dir / CONFIG_PATH
    try:
        # syntax-only: credentials files live on the Prometheus host, not here.
        result = run_tool("promtool", ["check", "config", "--syntax-only", path.name], cwd=path.parent)
    except ToolNotFoundError as exc:
        yield Outcome("promtool check config", "skipped", str(exc))
        return
    yield Outcome("promtool check config", "passed" if result.ok else "failed", result.output)


__all__ = ["check"]
