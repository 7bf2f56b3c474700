"""Helpers for the dashboard tests (no conftest.py and no __init__.py here on purpose: a `tests/dashboards` package would shadow the top-level `dashboards` package under pytest's default import mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edu_platform import platform as edu
from obs.builder import build
from obs.model import Platform

ENVIRONMENTS = [e.name for e in edu.environments]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``obs build --only grafana`` of the built-in platform, every environment."""
    out = tmp_path_factory.mktemp("grafana-build")
    build(edu, out, groups=["grafana"])
    return out


def dashboards_json(platform: Platform = edu, env: str = "prod") -> dict[str, dict[str, Any]]:
    from obs.catalogue.dashboards import dashboards

    return {d.uid: d.to_json() for d in dashboards(platform, platform.environment(env))}


def panels_by_id(dashboard: dict[str, Any]) -> dict[int, dict[str, Any]]:
    from obs.grafana.lint import iter_panels

    return {p["id"]: p for p in iter_panels(dashboard) if p["type"] != "row"}


def golden_files(built: Path) -> Iterator[tuple[str, Path]]:
    for env in ENVIRONMENTS:
        for path in sorted((built / env / "grafana").rglob("*")):
            if path.is_file():
                yield f"{env}/{path.relative_to(built / env / 'grafana')}", path
