"""The benchmark scripts start: their help prints (a stray '%' in a help text once crashed argparse),
and the paired ratio that reports the targets is the median of per-round ratios."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.bench_middleware import CONFIGS, TARGETS, paired_median

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_the_help_of_every_benchmark_script_prints(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_the_ratio_to_bare_pairs_each_round_with_its_own_bare_run() -> None:
    # Round 2 ran on a slow machine for both: the paired ratio ignores the drift, a ratio of medians would not.
    assert paired_median([90, 45, 88], [100, 50, 100]) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        paired_median([1.0], [1.0, 2.0])  # rounds must pair up


def test_the_issue_targets_and_configurations_are_the_ones_reported() -> None:
    assert TARGETS == {"fastapi": 0.60, "flask": 0.85}
    assert {"bare", "obs", "obs-10%", "obs-notrace", "obs-metrics-only", "usual"} <= set(CONFIGS)


@pytest.mark.parametrize("mode", ["sequential", "concurrent", "alternate"])
def test_a_round_measures_its_configurations_in_order_all_at_once_or_there_and_back(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse
    import threading

    from benchmarks import bench_middleware

    running = {"bare": ("http://a", 1), "obs": ("http://b", 2), "obs-10%": ("http://c", 3)}
    # Concurrently, every measurement must be under way before any returns.
    together = threading.Barrier(len(running), timeout=5)
    seen: list[str] = []

    def measure(url: str, session: int, duration: float, connections: int) -> tuple[float, float]:
        seen.append(url)
        if mode == "concurrent":
            together.wait()
        # Alternately, the way back measures each configuration 10 req/s faster: averaged, +5.
        back = mode == "alternate" and seen.count(url) == 2
        return float(session) + (10.0 if back else 0.0), duration

    monkeypatch.setattr(bench_middleware, "measure", measure)
    order = ["obs", "obs-10%", "bare"]
    args = argparse.Namespace(concurrent=mode == "concurrent", alternate=mode == "alternate", connections=8)
    got = bench_middleware.measure_round(running, order, 2.0, args)
    if mode == "alternate":
        assert got == [(7.0, 2.0), (8.0, 2.0), (6.0, 2.0)]
        assert seen == ["http://b", "http://c", "http://a", "http://a", "http://c", "http://b"]
    else:
        assert got == [(2.0, 2.0), (3.0, 2.0), (1.0, 2.0)]
    if mode == "sequential":
        assert seen == ["http://b", "http://c", "http://a"]


def test_a_target_is_met_only_when_the_interval_of_the_median_clears_it() -> None:
    from benchmarks.bench_middleware import median_interval, target_verdict

    steady = [0.90, 0.91, 0.92, 0.90, 0.91, 0.93, 0.92, 0.90, 0.91, 0.92]
    assert target_verdict(steady, 0.85).startswith("met (")
    assert target_verdict(steady, 0.95).startswith("MISSED (")
    # The spread of this VM: a median above the line whose interval still crosses it.
    noisy = [0.75, 0.98, 0.80, 0.95, 0.86, 0.92, 0.78, 0.99, 0.84, 0.90, 0.87, 0.81]
    verdict = target_verdict(noisy, 0.85)
    assert verdict.startswith("met on the median, not established"), verdict
    assert target_verdict(noisy, 0.87).startswith("missed on the median, not established")
    low, high = median_interval(noisy)
    assert low <= statistics.median(noisy) <= high and low < 0.85 < high
    assert median_interval(noisy) == (low, high), "seeded: a report can be reproduced from its rounds"
    with pytest.raises(ValueError):
        median_interval([0.9])


@pytest.mark.parametrize(
    "args",
    [["--configs", "bare,obs-metrics-only"], ["--base", "HEAD", "--config", "obs-notrace"]],
    ids=["configurations of this tree", "this tree against a revision"],
)
def test_the_ab_benchmark_runs_each_arm_in_its_own_process_on_its_own_code(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_ab.py"), *args, "--rounds", "3", "--requests", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # arm, µs per request, ratio to the first arm, [interval], configuration @ tree
    row = re.compile(r"^  (.+?)\s+([\d.]+)\s+([\d.]+)\s+\[([\d.]+), ([\d.]+)\]\s+(\S+) @ (.+)$")
    rows = [m.groups() for m in map(row.match, done.stdout.splitlines()) if m]
    assert len(rows) == 2, done.stdout
    reference, other = rows
    assert float(reference[2]) == 1.0, "the first arm is the reference"
    assert float(other[1]) > 0 and float(other[3]) <= float(other[2]) <= float(other[4])
    if "--base" in args:
        assert reference[6] != str(ROOT) and reference[6].startswith(tempfile.gettempdir()), done.stdout
        assert other[6] == str(ROOT)
        assert not Path(reference[6]).exists(), "the exported revision is removed afterwards"
    else:
        assert (reference[5], other[5]) == ("bare", "obs-metrics-only")


def test_the_ab_benchmark_refuses_what_it_cannot_measure() -> None:
    script = str(ROOT / "benchmarks" / "bench_ab.py")
    for args in ([], ["--configs", "bare,nope"], ["--base", "HEAD", "--configs", "bare,obs"]):
        done = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
    done = subprocess.run(
        [sys.executable, script, "--base", "no-such-revision"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "no-such-revision" in done.stderr
