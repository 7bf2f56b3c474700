"""Fixtures for the alerting tests: the built-in platform built once, and small platforms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_platforms import small_platform

from obs.build import build
from obs.model import Platform

GROUPS = ["prometheus", "rules", "alertmanager"]


@pytest.fixture(scope="session")
def edu_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in platform's Prometheus, rules and Alertmanager files, every environment."""
    from obs.builtin import platform

    out = tmp_path_factory.mktemp("edu")
    build(platform, out, groups=GROUPS)
    return out


@pytest.fixture
def shop() -> Platform:
    return small_platform()


@pytest.fixture
def restore_alert_modules() -> Iterator[None]:
    """Tests that plant a module in the ``alerts`` package remove it afterwards."""
    import sys

    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("alerts."):
            del sys.modules[name]
