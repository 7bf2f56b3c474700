"""Hostile text in every string field of a platform: a quote, a double quote, a Go template, a shell
substitution, a newline. Each value is either refused with one line naming the field, or builds
output that the real tools accept and in which nothing executes."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.builder import render
from obs.checks import alertmanager as am_checks
from obs.checks import prometheus as prom_checks
from obs.checks import rules as rules_checks
from obs.convert import platform_from_dict
from obs.errors import ModelError, ObsError
from obs.tools import available
from obs.writer import write_tree

GOOD = Path(__file__).parents[1] / "foundation" / "platforms" / "good.yaml"
CANARY = "/tmp/obs-planted-canary"
PAYLOADS = {
    "quote": "x'y",
    "double quote": 'x",service="other',
    "template": "#core {{ .Unclosed",
    "shell": f"$(touch {CANARY})",
    "newline": "x\ny",
}


def _string_leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_leaves(value, (*path, i))
    elif isinstance(node, str):
        yield path


def _planted(data: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


BASE = yaml.safe_load(GOOD.read_text())
# Free-text fields too: the descriptions reach dashboards, and the plant must reach every one.
BASE["services"][0]["description"] = "the API"
BASE["services"][0]["slos"][0]["description"] = "students can submit"
BASE["dependencies"][0]["description"] = "the database"
CASES = [(path, name) for path in _string_leaves(BASE) for name in PAYLOADS]


def _ident(case: tuple[tuple[Any, ...], str]) -> str:
    path, name = case
    return ".".join(map(str, path)) + f" <- {name}"


def _load(case: tuple[tuple[Any, ...], str]) -> Any:
    path, name = case
    return platform_from_dict(_planted(BASE, path, PAYLOADS[name]))


@pytest.mark.parametrize("case", CASES, ids=[_ident(c) for c in CASES])
def test_each_plant_is_refused_in_one_line_per_problem_or_accepted(case: tuple[tuple[Any, ...], str]) -> None:
    try:
        _load(case)
    except ModelError as err:
        lines = str(err).splitlines()
        problems = lines[1:] if len(lines) > 1 else lines
        assert problems and all(line.strip() for line in problems), str(err)
        assert len(problems) == (len(err.errors) if hasattr(err, "errors") else 1), str(err)


@pytest.fixture(scope="module")
def accepted() -> list[tuple[str, dict[str, bytes]]]:
    """Every plant the model accepts, rendered (a render error must say what is wrong)."""
    found: list[tuple[str, dict[str, bytes]]] = []
    for case in CASES:
        try:
            platform = _load(case)
        except ModelError:
            continue
        try:
            result = render(platform, groups=["prometheus", "rules", "alertmanager", "grafana"])
        except ObsError as err:
            assert str(err).strip(), "an error must say what is wrong"
            continue
        found.append((_ident(case), dict(result.files)))
    return found


def test_what_the_model_accepts_passes_promtool_and_amtool(accepted: list[tuple[str, dict[str, bytes]]], tmp_path: Path) -> None:
    if not (available("promtool") and available("amtool")):
        pytest.skip("promtool and amtool are needed (Debian prometheus, prometheus-alertmanager)")
    seen: set[bytes] = set()
    for ident, files in accepted:
        key = b"".join(files[k] for k in sorted(files) if "prometheus" in k or "alertmanager" in k)
        if key in seen:
            continue
        seen.add(key)
        out = tmp_path / f"case{len(seen)}"
        write_tree(out, files)
        for env in ("prod", "dev"):
            env_dir = out / env
            outcomes = [*prom_checks.check(env_dir), *rules_checks.check(env_dir), *am_checks.check(env_dir)]
            failed = [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"]
            assert not failed, f"{ident}: {failed}"
    assert not Path(CANARY).exists(), "a planted command ran"


def test_nothing_planted_executes_while_building_and_checking() -> None:
    # The shell payload in every field: nothing obs runs may have run it.
    subprocess.run(["true"], check=True)
    assert not Path(CANARY).exists()


def test_some_plants_are_accepted_so_the_tool_check_judges_real_output(accepted: list[tuple[str, dict[str, bytes]]]) -> None:
    # Free text (descriptions) may hold quotes and braces; those must reach the tools, not be refused.
    assert any("description" in ident for ident, _ in accepted), [i for i, _ in accepted]
