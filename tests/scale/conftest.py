"""Fixtures for the scale tests: the benchmark's generated platforms, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_scale import scale_platform
from obs.builder import build
from obs.model import Platform

GROUPS = ["prometheus", "rules"]


@pytest.fixture(scope="session")
def twelve() -> Platform:
    """Twelve services (two SLOs each, tiers 1 and 2 alternating) over one PostgreSQL and one Redis."""
    return scale_platform(12, ("prod", "staging"))


@pytest.fixture(scope="session")
def twelve_out(twelve: Platform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scale12") / "build"
    build(twelve, out, groups=GROUPS)
    return out
