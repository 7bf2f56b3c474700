"""promtool over the written rules: check rules, and the unit tests (test rules)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.render.rules import RULES_DIR, TESTS_DIR
from obs.tools import available, run_tool


def _rule_paths(env_dir: Path) -> list[Path]:
    return sorted((env_dir / RULES_DIR).glob("*.yml"))


def check(env_dir: Path) -> Iterator[Outcome]:
    """``promtool check rules`` on every rule file."""
    paths = _rule_paths(env_dir)
    if not paths:
        yield Outcome("promtool check rules", "failed", f"no rule files under {env_dir / RULES_DIR}")
        return
    for path in paths:
        name = f"promtool check rules {path.relative_to(env_dir)}"
        try:
            result = run_tool("promtool", ["check", "rules", path.name], cwd=path.parent)
        except ToolNotFoundError as exc:
            yield Outcome(name, "skipped", str(exc))
            return
        yield Outcome(name, "passed" if result.ok else "failed", result.output)


def test_files(env_dir: Path) -> list[Path]:
    tests = env_dir / TESTS_DIR
    return sorted(tests.glob("*.yml")) + sorted((tests / "handwritten").glob("*.yml"))


def run_test_file(env_dir: Path, path: Path) -> Outcome:
    """``promtool test rules`` on one test file of ``env_dir``."""
    name = f"promtool test rules {path.relative_to(env_dir)}"
    result = run_tool("promtool", ["test", "rules", path.name], cwd=path.parent, timeout=300)
    return Outcome(name, "passed" if result.ok else "failed", result.output)


def test(env_dir: Path) -> Iterator[Outcome]:
    """``promtool test rules`` on every generated and hand-written test file, a few at a time
    (each SLO file evaluates hours of history)."""
    paths = test_files(env_dir)
    if not paths:
        yield Outcome("promtool test rules", "failed", f"no test files under {env_dir / TESTS_DIR}")
        return
    if not available("promtool"):
        try:
            run_tool("promtool", ["--version"], cwd=env_dir)
        except ToolNotFoundError as exc:
            yield Outcome("promtool test rules", "skipped", str(exc))
            return
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(lambda path: run_test_file(env_dir, path), paths)


__all__ = ["check", "run_test_file", "test", "test_files"]
