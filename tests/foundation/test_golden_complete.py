"""Every golden file is a file the build still writes: a file that stops being produced fails here,
not silently in a folder nobody compares any more."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs.builder import build
from tests.conftest import GOLDEN_DIR

#: Golden folder → where its files sit inside an environment of the build.
BUILT_UNDER = {
    "alertmanager": "alertmanager",
    "compose": "compose",
    "elasticsearch": "elasticsearch",
    "exporters": "exporters",
    "fluentd": "fluentd",
    "grafana": "grafana",
    "jaeger": "jaeger",
    "kibana": "kibana",
    "kubernetes": "kubernetes",
    "logstash": "logstash",
    "otel-collector": "otel-collector",
    "rules": "prometheus",
    "runbooks": "runbooks",
}


@pytest.fixture(scope="module")
def edu_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edu_platform import platform

    out = tmp_path_factory.mktemp("golden-complete") / "build"
    build(platform, out, root=Path(__file__).parents[2])
    return out


@pytest.mark.parametrize("folder", sorted(p.name for p in GOLDEN_DIR.iterdir() if p.is_dir()))
def test_every_golden_file_is_still_built(edu_build: Path, folder: str) -> None:
    assert folder in BUILT_UNDER, f"tests/golden/{folder}: no group is known to write it (add it to BUILT_UNDER)"
    stale = []
    for golden in sorted(p for p in (GOLDEN_DIR / folder).rglob("*") if p.is_file()):
        env, rel = golden.relative_to(GOLDEN_DIR / folder).as_posix().split("/", 1)
        if not (edu_build / env / BUILT_UNDER[folder] / rel).is_file():
            stale.append(golden.relative_to(GOLDEN_DIR).as_posix())
    assert not stale, f"golden files the build no longer writes (delete them, or find what stopped writing them): {stale}"
