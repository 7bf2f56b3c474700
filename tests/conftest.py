"""Shared fixtures: the built-in platform, golden-file comparison, free ports."""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("OBS_UPDATE_GOLDEN") == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist's ``--dist loadgroup`` a file's tests share one worker, so a module's
    servers start once; the end-to-end modules share one demo stack. First among the hooks: xdist
    reads the groups in its own, and this conftest is registered before xdist's worker plugin."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group("e2e" if item.path.parent.name == "e2e" else str(item.path)))


@pytest.fixture(scope="session")
def edu_platform():  # type: ignore[no-untyped-def]
    from edu_platform import platform

    return platform


def assert_golden(relative: str, actual: bytes | str) -> None:
    """Compare ``actual`` with ``tests/golden/<relative>``; ``OBS_UPDATE_GOLDEN=1`` rewrites it.

    Golden files are committed on purpose: a diff in review is a diff in what on-call gets.
    """
    data = actual.encode() if isinstance(actual, str) else actual
    path = GOLDEN_DIR / relative
    if UPDATE_GOLDEN or not path.exists():
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} is missing: run with OBS_UPDATE_GOLDEN=1 to create it, then review and commit it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    expected = path.read_bytes()
    if expected != data:
        diff = "".join(
            difflib.unified_diff(
                expected.decode(errors="replace").splitlines(keepends=True),
                data.decode(errors="replace").splitlines(keepends=True),
                fromfile=f"golden/{relative}",
                tofile="rendered",
                n=2,
            )
        )
        pytest.fail(f"{relative} differs from its golden file (OBS_UPDATE_GOLDEN=1 to accept):\n{diff[:6000]}")


@pytest.fixture
def golden() -> Callable[[str, bytes | str], None]:
    return assert_golden


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()
