"""Checks of the Alertmanager configurations: ``amtool check-config``, the generated routing tests
and the message templates rendered by ``amtool template render``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.renderers.alertmanager import AUDIT_CONFIG_PATH, CONFIG_PATH, ROUTES_TEST_PATH, TEMPLATES_TEST_PATH
from obs.schemas import load_yaml
from obs.tools import run_tool


def _configs(env_dir: Path) -> list[Path]:
    return [p for p in (env_dir / CONFIG_PATH, env_dir / AUDIT_CONFIG_PATH) if p.exists()]


def check(env_dir: Path) -> Iterator[Outcome]:
    """``amtool check-config`` on the rendered configurations."""
    for path in _configs(env_dir):
        name = f"amtool check-config {path.relative_to(env_dir)}"
        try:
            result = run_tool("amtool", ["check-config", path.name], cwd=path.parent)
        except ToolNotFoundError as exc:
            yield Outcome(name, "skipped", str(exc))
            return
        yield Outcome(name, "passed" if result.ok else "failed", result.output)


def _route_test(env_dir: Path, case: dict[str, Any]) -> Outcome:
    path = env_dir / case.get("config", CONFIG_PATH)
    labels = [f"{k}={v}" for k, v in sorted(case["labels"].items())]
    expected = ",".join(case["receivers"])
    args = ["config", "routes", "test", f"--config.file={path.name}", f"--verify.receivers={expected}", *labels]
    result = run_tool("amtool", args, cwd=path.parent, timeout=30)
    name = f"amtool routes test: {case['name']}"
    detail = result.output if result.ok else f"expected {expected}; amtool: {result.output}"
    return Outcome(name, "passed" if result.ok else "failed", detail)


def render_template(text: str, data: dict[str, Any], folder: Path) -> tuple[bool, str]:
    """``amtool template render`` of ``text`` over ``data`` (an Alertmanager notification's data):
    (whether it rendered, the text or amtool's error)."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        (Path(tmp) / "none.tmpl").write_text("", encoding="utf-8")
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        result = run_tool(
            "amtool",
            ["template", "render", "--template.glob=none.tmpl", f"--template.text={text}", f"--template.data={data_file.name}"],
            cwd=Path(tmp),
            timeout=30,
        )
    return result.ok, result.output


def _template_test(env_dir: Path, case: dict[str, Any]) -> Outcome:
    name = f"amtool template render: {case['name']}"
    ok, output = render_template(case["template"], case["data"], env_dir)
    if not ok:
        return Outcome(name, "failed", output)
    missing = [text for text in case["contains"] if text not in output]
    if missing:
        return Outcome(name, "failed", f"the rendered text lacks {', '.join(map(repr, missing))}:\n{output}")
    return Outcome(name, "passed", output)


def test(env_dir: Path) -> Iterator[Outcome]:
    """``amtool config routes test --verify.receivers`` for every generated route case, and
    ``amtool template render`` for every template case."""
    config_path = env_dir / CONFIG_PATH
    try:
        run_tool("amtool", ["--version"], cwd=config_path.parent)
    except ToolNotFoundError as exc:
        yield Outcome("amtool routes test", "skipped", str(exc))
        return
    routes = load_yaml((env_dir / ROUTES_TEST_PATH).read_text(encoding="utf-8"))["cases"]
    templates_file = env_dir / TEMPLATES_TEST_PATH
    templates = load_yaml(templates_file.read_text(encoding="utf-8"))["cases"] if templates_file.exists() else []
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield from pool.map(lambda case: _route_test(env_dir, case), routes)
        yield from pool.map(lambda case: _template_test(env_dir, case), templates)


__all__ = ["check", "render_template", "test"]
