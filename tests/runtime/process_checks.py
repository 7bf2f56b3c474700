"""Checks on processes for the runtime tests: whether a pid still runs, and a supervising parent to kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def alive(pid: int) -> bool:
    """Running, not a zombie: an orphan's zombie waits for a PID 1 that may never reap it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return fields[0] != "Z"


def all_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still alive after ``timeout`` (empty when every one is gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@contextlib.contextmanager
def supervised_parent(tmp_path: Path, mode: str = "children") -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """The parent program and its children's pids; whatever survives the test is killed afterwards."""
    parent = subprocess.Popen(
        [sys.executable, str(HERE / "supervised_parent.py"), str(tmp_path), mode], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        if not line:
            pytest.fail(f"the supervised parent exited with {parent.wait(10)} before starting its children")
        pids = json.loads(line)
        assert pids and all(alive(p) for p in pids)
        yield parent, pids
    finally:
        for pid in [parent.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait(10)
        parent.stdout.close()  # type: ignore[union-attr]
