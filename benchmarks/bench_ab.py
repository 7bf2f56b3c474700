"""Paired A/B of the hot path: this build against another revision, or configurations side by side.

The server benchmark (``bench_middleware.py``) judges the issue's targets, but one round's ratio
there spreads by ~0.1 on this VM: a change worth 2 % of throughput is invisible in it. This script
calls the app in process (``bench_inprocess.py``'s callers: no sockets, no server), each arm in
its own process (its own heap and collector: arms in one process would share the garbage
collector's work), all pinned to one core and run one at a time in short blocks, there and back
(ABBA) with the order rotated per round. Each round's ratio compares blocks a fraction of a second
apart, so the machine's drift cancels: 150 rounds of 300 requests give a 95 % interval of about
±1 % on the ratio.

    .venv/bin/python benchmarks/bench_ab.py --base HEAD~1               # obs of this tree against HEAD~1's
    .venv/bin/python benchmarks/bench_ab.py --base d2e5210 --config obs-notrace --framework fastapi
    .venv/bin/python benchmarks/bench_ab.py --configs bare,obs-notrace,obs    # configurations of this tree

Ratios are throughput ratios to the first arm (its CPU time per request over the arm's): above 1
is faster. ``--base`` exports the revision with ``git archive`` into a temporary directory; the
benchmark code (apps and configurations) is this tree's, the instrumentation the revision's, so
the base must accept this tree's ``instrument()`` arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_inprocess import CONFIGS  # noqa: E402
from benchmarks.bench_middleware import median_interval  # noqa: E402

#: Seconds a worker may take to import and warm up, and to answer one block.
WORKER_START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Arm:
    name: str
    tree: Path
    config: str


def worker(tree: Path, framework: str, config: str) -> int:
    """One arm: build the app with ``tree``'s instrumentation, then answer "N" with the CPU
    microseconds per request of N requests (all of this process's threads: the span processor's too)."""
    import logging
    import os

    # This tree's benchmark modules are imported already (above); the packages they import lazily
    # (instrumentation, obs, exporters) now come from ``tree``.
    sys.path.insert(0, str(tree))
    from benchmarks.bench_inprocess import fastapi_caller, flask_caller

    sink = logging.FileHandler(os.devnull)
    run = (flask_caller if framework == "flask" else fastapi_caller)(config, sink)
    logging.getLogger().handlers[:] = [sink]
    run(2000)  # warm-up: imports, caches, the first requests' paths
    source = sys.modules["instrumentation"].__file__ if "instrumentation" in sys.modules else "-"
    print(f"ready {source}", flush=True)
    for line in sys.stdin:
        n = int(line)
        start = time.process_time()
        run(n)
        print(f"{(time.process_time() - start) / n * 1e6:.4f}", flush=True)
    return 0


class Worker:
    def __init__(self, arm: Arm, framework: str) -> None:
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        self.arm = arm
        self.proc = subprocess.Popen(
            [*pin, sys.executable, __file__, "--worker", str(arm.tree), framework, arm.config],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        ready = self._read(WORKER_START_TIMEOUT)
        source = ready.removeprefix("ready ").strip()
        if not ready.startswith("ready ") or (source != "-" and not Path(source).resolve().is_relative_to(arm.tree)):
            raise RuntimeError(f"{arm.name}: worker did not start on {arm.tree}: {ready!r}")

    def _read(self, timeout: float) -> str:
        """The worker's next line; a worker that exits or says nothing for ``timeout`` s is an error."""
        assert self.proc.stdout is not None
        # One line is asked for at a time, so none waits in the pipe object's buffer: select sees it.
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise RuntimeError(f"{self.arm.name}: worker exited or stalled (rc={self.proc.poll()})")
        return line

    def block(self, requests: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{requests}\n")
        self.proc.stdin.flush()
        return float(self._read(WORKER_START_TIMEOUT))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@contextlib.contextmanager
def exported(revision: str) -> Iterator[Path]:
    """``revision`` of this repository as files in a temporary directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="obs-bench-ab-") as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=False
        )
        if archive.returncode != 0:
            raise SystemExit(f"git archive {revision}: {archive.stderr.decode(errors='replace').strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp).resolve()


def measure(arms: Sequence[Arm], framework: str, rounds: int, requests: int) -> dict[str, list[float]]:
    """CPU microseconds per request of each arm in each round (the mean of its two blocks)."""
    workers: list[Worker] = []
    try:
        for arm in arms:
            workers.append(Worker(arm, framework))
        results: dict[str, list[float]] = {arm.name: [] for arm in arms}
        for r in range(rounds):
            shift = r % len(workers)
            order = workers[shift:] + workers[:shift]
            there = {w.arm.name: w.block(requests) for w in order}
            back = {w.arm.name: w.block(requests) for w in reversed(order)}
            for name in results:
                results[name].append((there[name] + back[name]) / 2)
        return results
    finally:
        for w in workers:
            w.close()


def report(arms: Sequence[Arm], results: dict[str, list[float]], framework: str, rounds: int, requests: int) -> None:
    reference = arms[0].name
    print(f"{framework}: in process, {rounds} rounds x 2 blocks x {requests} requests per arm (CPU µs per request)")
    print(f"  {'arm':24s} {'µs/req':>8s} {'x ' + reference:>12s}  95% interval     what")
    for arm in arms:
        times = results[arm.name]
        ratios = [ref / own for ref, own in zip(results[reference], times, strict=True)]
        low, high = median_interval(ratios) if rounds >= 2 else (float("nan"), float("nan"))
        print(
            f"  {arm.name:24s} {statistics.median(times):8.1f} {statistics.median(ratios):12.3f}"
            f"  [{low:.3f}, {high:.3f}]  {arm.config} @ {arm.tree}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--worker"]:
        tree, framework, config = args_list[1:4]
        return worker(Path(tree), framework, config)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a git revision to compare this tree against (e.g. HEAD~1)")
    parser.add_argument("--config", default="obs", help="the configuration both builds run (with --base)")
    parser.add_argument("--configs", help="comma-separated configurations of this tree, the first the reference")
    parser.add_argument("--framework", choices=["flask", "fastapi"], default="flask")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--requests", type=int, default=300, help="requests per block (two blocks per arm per round)")
    args = parser.parse_args(args_list)
    if (args.base is None) == (args.configs is None):
        parser.error("give --base REV (two builds) or --configs A,B,... (configurations of this tree)")
    configs = [args.config] if args.base is not None else [c for c in args.configs.split(",") if c]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configurations {unknown}; known: {', '.join(CONFIGS)}")
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")
    with contextlib.ExitStack() as stack:
        if args.base is not None:
            base = stack.enter_context(exported(args.base))
            arms = [Arm(args.base, base, args.config), Arm("this tree", ROOT, args.config)]
        else:
            arms = [Arm(config, ROOT, config) for config in configs]
        results = measure(arms, args.framework, args.rounds, args.requests)
        report(arms, results, args.framework, args.rounds, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
