"""Cost at the size of a real company: ``obs build``, ``obs check`` and ``obs test`` on generated
platforms of 10 to 1,000 services.

Each generated service is a FastAPI service with an availability and a latency SLO; every service
uses the same two dependencies (PostgreSQL and Redis), ten services share a team, and the platform
has three environments (prod, staging, dev). Each command runs in its own process: CPU is the
user + system time of that process and everything it waited for (promtool included), peak RSS is
the largest resident set among them (for the build: the obs process itself), output is the bytes
``obs build`` wrote.

    .venv/bin/python benchmarks/bench_scale.py                        # build 10..1000, check/test 10..200
    .venv/bin/python benchmarks/bench_scale.py --sizes 10,50 --rounds 3 --base HEAD~3   # before/after

With ``--base REV`` every size is measured for that revision and this tree alternately in each
round (the same machine conditions for both), and the medians are printed side by side. The cost
per service of a size is its figure per service divided by the 10-service figure per service: 1.0
is linear, above 1 grows faster than the number of services. When ``benchmarks/bench_rule_eval.py``
is present its rule-evaluation table (obs's SLO rules against Sloth-style rules in a real
Prometheus) follows.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from obs.model import (  # noqa: E402
    SLO,
    AvailabilitySLI,
    Dependency,
    DependencyKind,
    Environment,
    LatencySLI,
    Platform,
    Service,
    ServiceKind,
    Team,
)

SIZES = (10, 50, 200, 1000)
#: Sizes at which ``check`` and ``test`` run by default (1,000 services take long to test).
TESTED_SIZES = (10, 50, 200)
ENVIRONMENTS = ("prod", "staging", "dev")
SERVICES_PER_TEAM = 10
COMMANDS = ("build", "check", "test")
#: Seconds one command may run before the benchmark gives up on it.
COMMAND_TIMEOUT = 3600.0


def scale_platform(services: int, environments: Sequence[str] = ENVIRONMENTS) -> Platform:
    """A platform of ``services`` FastAPI services, each with an availability and a latency SLO
    over the same PostgreSQL and Redis; ten services to a team; one environment per name."""
    teams = max(1, services // SERVICES_PER_TEAM)
    return Platform(
        name="scale",
        runbook_base_url="https://runbooks.example.org",
        infra_team="platform",
        teams=(*(Team(f"team{t:03d}") for t in range(teams)), Team("platform")),
        services=tuple(
            Service(
                name=f"svc{i:04d}",
                kind=ServiceKind.FASTAPI,
                team=f"team{i % teams:03d}",
                tier=1 if i % 2 == 0 else 2,
                port=8000,
                depends_on=("postgres", "redis"),
                slos=(
                    SLO("availability", AvailabilitySLI(), objective=0.999),
                    SLO("latency", LatencySLI(threshold_seconds=0.3), objective=0.99),
                ),
            )
            for i in range(services)
        ),
        dependencies=(
            Dependency("postgres", DependencyKind.POSTGRES, "platform", "postgres:5432"),
            Dependency("redis", DependencyKind.REDIS, "platform", "redis:6379"),
        ),
        environments=tuple(Environment(name, paging=name == "prod") for name in environments),
    )


@dataclass(frozen=True)
class Run:
    """One command's cost."""

    cpu: float
    wall: float
    rss_mb: float
    ok: bool
    output_mb: float = 0.0
    #: Seconds per phase (build) or per artifact group (check, test), as the command reports them.
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Tree:
    """A source tree to measure: this one, or a revision exported by ``--base``."""

    name: str
    path: Path


def _platform_file(folder: Path, services: int, environments: Sequence[str]) -> Path:
    path = folder / f"platform_{services}.py"
    path.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from benchmarks.bench_scale import scale_platform\n"
        f"platform = scale_platform({services}, {tuple(environments)!r})\n"
    )
    return path


def run_command(tree: Path, args: Sequence[str], cwd: Path, timeout: float = COMMAND_TIMEOUT) -> Run:
    """``python -m obs <args>`` with ``tree``'s obs: its CPU (with every process it waited for),
    wall time and peak RSS, from the kernel's accounting of the finished process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # Output goes to files, not pipes: a report larger than a pipe's buffer would block the child
    # while this process waits for it to exit.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "obs", *args], cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    try:
        timings = {k: float(v) for k, v in json.loads(stdout).get("timings", {}).items()}
    except ValueError:
        timings = {}
    if proc.returncode != 0:
        print(f"  obs {' '.join(args[:1])} exited {proc.returncode}: {(stderr or stdout).strip().splitlines()[-3:]}", file=sys.stderr)
    return Run(cpu=usage.ru_utime + usage.ru_stime, wall=wall, rss_mb=usage.ru_maxrss / 1024, ok=proc.returncode == 0, timings=timings)


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def measure_size(tree: Tree, services: int, commands: Sequence[str], work: Path, environments: Sequence[str]) -> dict[str, Run]:
    """Build, then check and test what was built (without building again)."""
    folder = work / f"{tree.name}-{services}"
    folder.mkdir(parents=True, exist_ok=True)
    platform = _platform_file(folder, services, environments)
    out = folder / "out"
    runs: dict[str, Run] = {}
    quiet = ["--format", "json"]
    build = run_command(tree.path, ["build", "--platform", str(platform), "--out", str(out), *quiet], folder)
    runs["build"] = Run(build.cpu, build.wall, build.rss_mb, build.ok, folder_mb(out) if out.is_dir() else 0.0, build.timings)
    if "check" in commands and build.ok:
        runs["check"] = run_command(tree.path, ["check", "--strict", "--out", str(out), *quiet], folder)
    if "test" in commands and build.ok:
        runs["test"] = run_command(tree.path, ["test", "--out", str(out), *quiet], folder)
    return runs


@contextlib.contextmanager
def exported(revision: str) -> Iterator[Path]:
    """``revision`` of this repository as files in a temporary folder (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="obs-bench-scale-") as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=False)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {revision}: {archive.stderr.decode(errors='replace').strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp).resolve()


#: (tree, size, command) → the runs of every round.
Results = dict[tuple[str, int, str], list[Run]]


def measure(trees: Sequence[Tree], sizes: Sequence[int], tested: Sequence[int], rounds: int, environments: Sequence[str]) -> Results:
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="obs-scale-") as tmp:
        for r in range(rounds):
            for size in sizes:
                commands = COMMANDS if size in tested else ("build",)
                # The trees of one size one after the other: the ratio compares like conditions.
                for tree in trees if r % 2 == 0 else list(reversed(trees)):
                    print(f"round {r + 1}/{rounds}: {tree.name}, {size} services: {', '.join(commands)}", file=sys.stderr, flush=True)
                    for command, run in measure_size(tree, size, commands, Path(tmp) / f"r{r}", environments).items():
                        results.setdefault((tree.name, size, command), []).append(run)
                    with contextlib.suppress(OSError):
                        subprocess.run(["rm", "-rf", str(Path(tmp) / f"r{r}" / f"{tree.name}-{size}")], check=False)
    return results


def median(runs: Sequence[Run], field: str) -> float:
    return float(statistics.median(float(getattr(r, field)) for r in runs))


def per_service_ratio(values: Mapping[int, float], size: int) -> float | None:
    """The cost per service at ``size`` over the cost per service at the smallest size."""
    base = min(values)
    if values.get(base, 0) <= 0 or size not in values:
        return None
    return (values[size] / size) / (values[base] / base)


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def table(results: Results, tree: str, sizes: Sequence[int]) -> str:
    """One tree's medians: a row per size."""
    head = (
        "| services | build CPU | build wall | peak RSS | output | check --strict wall (CPU) | test wall (CPU) "
        "| per service vs 10: build CPU | output | test CPU |"
    )
    lines = [head, "|" + "---:|" * 10]
    cpu: dict[int, float] = {}
    out: dict[int, float] = {}
    test: dict[int, float] = {}
    for size in sizes:
        build = results.get((tree, size, "build"), [])
        if build:
            cpu[size] = median(build, "cpu")
            out[size] = median(build, "output_mb")
        tests = [r for r in results.get((tree, size, "test"), []) if r.ok]
        if tests:
            test[size] = median(tests, "cpu")
    for size in sizes:
        build = results.get((tree, size, "build"), [])
        if not build:
            continue
        failed = "" if all(r.ok for r in build) else " (failed)"

        def phase(command: str, size: int = size) -> str:
            runs = results.get((tree, size, command), [])
            if not runs:
                return "—"
            note = "" if all(r.ok for r in runs) else f", exit≠0 in {sum(not r.ok for r in runs)}"
            return f"{median(runs, 'wall'):,.1f} s ({median(runs, 'cpu'):,.1f} s{note})"

        lines.append(
            f"| {size:,} | {cpu[size]:,.2f} s{failed} | {median(build, 'wall'):,.2f} s | {median(build, 'rss_mb'):,.0f} MB "
            f"| {out[size]:,.1f} MB | {phase('check')} | {phase('test')} "
            f"| {_fmt(per_service_ratio(cpu, size), 'x', 2)} | {_fmt(per_service_ratio(out, size), 'x', 2)} "
            f"| {_fmt(per_service_ratio(test, size) if size in test else None, 'x', 2)} |"
        )
    return "\n".join(lines)


def phases(results: Results, tree: str, size: int) -> str:
    """Where the time of each command goes at ``size`` (median seconds per phase or group)."""
    lines = []
    for command in COMMANDS:
        runs = results.get((tree, size, command), [])
        names = list(dict.fromkeys(n for r in runs for n in r.timings))
        if names:
            parts = [(n, statistics.median(r.timings.get(n, 0.0) for r in runs)) for n in names]
            shown = ", ".join(f"{n} {v:,.1f}" for n, v in sorted(parts, key=lambda p: -p[1]) if v >= 0.05)
            lines.append(f"- `obs {command}` at {size:,} services (s): {shown}")
    return "\n".join(lines)


def rule_eval_report() -> str | None:
    """The rule-evaluation table of ``benchmarks/bench_rule_eval.py`` (its ``report()``), when
    that benchmark exists."""
    try:
        module = importlib.import_module("benchmarks.bench_rule_eval")
    except ModuleNotFoundError:
        return None
    report: Callable[[], Any] | None = getattr(module, "report", None)
    return str(report()) if callable(report) else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="numbers of services (default: %(default)s)")
    parser.add_argument("--tested", default=",".join(map(str, TESTED_SIZES)), help="sizes also checked and tested (default: %(default)s)")
    parser.add_argument("--envs", default=",".join(ENVIRONMENTS), help="environments of the generated platforms (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; medians are reported (default: %(default)s)")
    parser.add_argument("--base", metavar="REV", help="also measure this revision, alternating with this tree")
    parser.add_argument("--no-rule-eval", action="store_true", help="skip the rule-evaluation table")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tested = [int(s) for s in args.tested.split(",") if s]
    envs = [e for e in args.envs.split(",") if e]
    with contextlib.ExitStack() as stack:
        trees = [Tree("this tree", ROOT)]
        if args.base:
            trees.insert(0, Tree(args.base, stack.enter_context(exported(args.base))))
        results = measure(trees, sizes, tested, args.rounds, envs)
    print(f"obs build / check --strict / test, {len(envs)} environments ({', '.join(envs)}), median of {args.rounds} round(s), {os.cpu_count()} cores\n")
    for tree in trees:
        print(f"{tree.name}:\n\n{table(results, tree.name, sizes)}\n")
        for size in sizes:
            where = phases(results, tree.name, size)
            if where:
                print(where)
        print()
    if not args.no_rule_eval:
        report = rule_eval_report()
        if report:
            print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
