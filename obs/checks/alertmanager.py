"""Checks of the Alertmanager configuration: amtool check-config and the generated routing tests."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.render.alertmanager import CONFIG_PATH, ROUTES_TEST_PATH
from obs.tools import run_tool


def check(env_dir: Path) -> Iterator[Outcome]:
    """``amtool check-config`` on the rendered configuration."""
    path = env_dir / CONFIG_PATH
    try:
        result = run_tool("amtool", ["check-config", path.name], cwd=path.parent)
    except ToolNotFoundError as exc:
        yield Outcome("amtool check-config", "skipped", str(exc))
        return
    yield Outcome("amtool check-config", "passed" if result.ok else "failed", result.output)


def _route_test(path: Path, case: dict[str, Any]) -> Outcome:
    labels = [f"{k}={v}" for k, v in sorted(case["labels"].items())]
    expected = ",".join(case["receivers"])
    args = [
        "config",
        "routes",
        "test",
        f"--config.file={path.name}",
        f"--verify.receivers={expected}",
        *labels,
    ]
    result = run_tool("amtool", args, cwd=path.parent, timeout=30)
    name = f"amtool routes test: {case['name']}"
    detail = result.output if result.ok else f"expected {expected}; amtool: {result.output}"
    return Outcome(name, "passed" if result.ok else "failed", detail)


def test(env_dir: Path) -> Iterator[Outcome]:
    """``amtool config routes test --verify.receivers`` for every generated case."""
    config_path = env_dir / CONFIG_PATH
    cases = yaml.safe_load((env_dir / ROUTES_TEST_PATH).read_text(encoding="utf-8"))["cases"]
    try:
        run_tool("amtool", ["--version"], cwd=config_path.parent)
    except ToolNotFoundError as exc:
        yield Outcome("amtool routes test", "skipped", str(exc))
        return
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield from pool.map(lambda case: _route_test(config_path, case), cases)


__all__ = ["check", "test"]
