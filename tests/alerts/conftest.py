"""Fixtures for the alerting tests: the built-in platform built once, and small platforms."""

from __future__ import annotations

from pathlib import Path

import pytest
from alert_platforms import small_platform

from obs.builder import build
from obs.model import Platform

GROUPS = ["prometheus", "rules", "alertmanager"]


@pytest.fixture(scope="session")
def edu_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in platform's Prometheus, rules and Alertmanager files, every environment."""
    from edu_platform import platform

    out = tmp_path_factory.mktemp("edu")
    build(platform, out, groups=GROUPS)
    return out


@pytest.fixture
def shop() -> Platform:
    return small_platform()
