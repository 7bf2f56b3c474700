"""``obs demo`` as a user runs it: it plays a story and writes its report, and whatever way it ends
(its duration, or killed with SIGKILL) no process it started is left."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from obs.demo.stack import check_runnable
from obs.errors import ToolNotFoundError
from obs.loader import load_project
from tests.e2e.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _runnable() -> None:
    try:
        check_runnable(load_project(REPO / "edu_platform.py").platform)
    except ToolNotFoundError as exc:
        pytest.skip(str(exc))


def _demo(run_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "obs", "demo", "--platform", str(REPO / "edu_platform.py"), "--env", "dev", "--run-dir", str(run_dir), "--no-live", *args]


def _started_by(run_dir: Path) -> set[int]:
    """Processes whose working folder or command line is in ``run_dir`` (or PostgreSQL's folder beside it)."""
    roots = [str(run_dir.resolve())]
    postgres = run_dir / "processes" / "postgres"
    if postgres.is_symlink():
        roots.append(str(postgres.resolve()))
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(cwd.startswith(r) or r in cmdline for r in roots):
            found.add(int(proc.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists() and (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")}


def test_the_demo_plays_a_story_and_writes_its_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = subprocess.run(_demo(run_dir, "--scenario", "errors", "--duration", "35s", "--format", "json"), capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    report = Path(result["report"])
    text = report.read_text(encoding="utf-8")
    assert result["reason"] == "--duration 35s reached"
    for expected in ("begins: error burst on backend", "ErrorBudgetBurn", "learning-chat", "healed"):
        assert expected in text, f"the report lacks {expected!r}"
    previews = {p.name for p in report.parent.iterdir()}
    assert {"obs-svc-backend.html", "obs-slo.html"} <= previews
    if shutil.which("chromium"):
        assert {"obs-svc-backend.png", "obs-slo.png"} <= previews
    assert not _started_by(run_dir), "processes of the demo outlived it"


def test_a_demo_killed_with_sigkill_leaves_no_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    demo = subprocess.Popen(_demo(run_dir, "--scenario", "none"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout or ()], daemon=True).start()
    postgres: Path | None = None
    try:
        deadline, seen = time.monotonic() + 120, []
        while not any("stack started" in line for line in seen):
            assert time.monotonic() < deadline and demo.poll() is None, "the demo did not start:\n" + "".join(seen[-20:])
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        postgres = (run_dir / "processes" / "postgres").resolve()
        pids = _started_by(run_dir)
        assert len(pids) >= 10, f"expected the stack's servers, found {len(pids)} processes"
        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
        deadline = time.monotonic() + 20
        while _alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pids), f"still running after the demo was killed: {sorted(_alive(pids))}"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        # A killed demo cannot remove PostgreSQL's folder outside the run folder: the test does.
        if postgres is not None and not postgres.is_relative_to(run_dir.resolve()):
            shutil.rmtree(postgres, ignore_errors=True)
