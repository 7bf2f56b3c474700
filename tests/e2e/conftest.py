"""One running stack for the end-to-end tests: the built-in platform's dev environment on
127.0.0.1, time-scaled, with traffic, shared by every test of the session (starting it takes
seconds, its story minutes). Everything it starts is stopped when the session ends, a test fails
or pytest is interrupted (obs.runtime.Supervisor; its children also die with this process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from obs.demo.stack import Stack, StackOptions, check_runnable
from obs.demo.traffic import Traffic
from obs.errors import ToolNotFoundError
from obs.loader import load_project

REPO = Path(__file__).resolve().parents[2]
#: Rules, windows and Alertmanager timings divided by this (docs/demo.md): a 5m window is 10s.
TIME_SCALE = 30.0
ENV = "dev"


@dataclass(frozen=True)
class Running:
    stack: Stack
    traffic: Traffic
    started: float

    def platform_seconds(self, wall: float) -> float:
        return wall * TIME_SCALE


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    project = load_project(REPO / "edu_platform.py")
    try:
        check_runnable(project.platform)
    except ToolNotFoundError as exc:  # a server's Debian package missing (a Python extra missing fails)
        pytest.skip(str(exc))
    options = StackOptions(project, ENV, time_scale=TIME_SCALE, run_dir=tmp_path_factory.mktemp("demo"))
    with Stack(options) as stack:
        traffic = Traffic(stack.traffic_targets(rate=10)).start()
        _TRAFFIC.append(traffic)
        try:
            stack.wait_until_scraped()
            yield Running(stack, traffic, time.time())
        finally:
            traffic.stop()


#: The shared stack's traffic, stopped after the last end-to-end test: the stack itself lives to
#: the end of the session, and its clients' calls would otherwise show up in other tests' spans.
_TRAFFIC: list[Traffic] = []


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    here = Path(__file__).parent
    if item.path.parent == here and (nextitem is None or nextitem.path.parent != here):
        for traffic in _TRAFFIC:
            traffic.stop()


#: The command-line runs come before the shared stack starts (two stacks on two cores slow each
#: other down); the shared stack's story runs next, then the checks that read what it left
#: (panels with errors and alerts, exemplars).
MODULE_ORDER = ("test_demo_cli.py", "test_story.py", "test_dashboards_and_traces.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    slots = [n for n, item in enumerate(items) if item.path.parent == here]
    ordered = sorted((items[n] for n in slots), key=lambda i: MODULE_ORDER.index(i.path.name) if i.path.name in MODULE_ORDER else -1)
    for n, item in zip(slots, ordered, strict=True):
        items[n] = item
