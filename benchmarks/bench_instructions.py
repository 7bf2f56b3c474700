"""What each configuration costs a request in CPU instructions, counted by valgrind's callgrind.

Timings on a shared 2-core machine move by several percent between runs, more than most changes to
the middleware are worth. Instruction counts do not: callgrind counts the instructions a process
executes, whatever else the machine is doing, so two runs of the same code give the same figure to
a fraction of a percent. This script runs each configuration of ``bench_inprocess.py`` (the same
apps, called in process) in its own ``valgrind --tool=callgrind`` child twice, once with
``--base`` requests and once with ``--base + --requests``; the difference divided by
``--requests`` is the cost of one request with start-up, imports and first-request work removed.

    .venv/bin/python benchmarks/bench_instructions.py                        # both frameworks
    .venv/bin/python benchmarks/bench_instructions.py --framework flask --configs bare,obs

"x bare" is bare's count over the configuration's: the throughput ratio a CPU-bound server would
see if every instruction cost the same (they do not: cache misses and syscalls are not weighed, so
the server benchmark stays the judge of the issue's targets). Needs valgrind (Debian package).
A run takes a few minutes: each child runs ~50 times slower under valgrind.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_inprocess import CONFIGS, fastapi_caller, flask_caller

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(framework: str, config: str, requests: int) -> None:
    """Runs ``requests`` requests through one configuration (the process valgrind measures)."""
    sink = logging.FileHandler(os.devnull)
    run = (flask_caller if framework == "flask" else fastapi_caller)(config, sink)
    logging.getLogger().handlers[:] = [sink]
    run(requests)


def count(framework: str, config: str, requests: int) -> int:
    """Instructions executed by a child process that handles ``requests`` requests."""
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", framework, config, str(requests),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # same dict layouts in every child
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{framework}/{config} under callgrind failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def per_request(framework: str, config: str, base: int, requests: int) -> float:
    return (count(framework, config, base + requests) - count(framework, config, base)) / requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=["flask", "fastapi", "all"], default="all")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--base", type=int, default=100, help="requests in the shorter run (warm-up included)")
    parser.add_argument("--requests", type=int, default=1000, help="extra requests in the longer run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children run at once")
    parser.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "CONFIG", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    configs = [c for c in args.configs.split(",") if c]
    if "bare" not in configs or set(configs) - set(CONFIGS):
        parser.error(f"configs must include 'bare' and be among {', '.join(CONFIGS)}")
    frameworks = ["flask", "fastapi"] if args.framework == "all" else [args.framework]
    jobs = [(f, c) for f in frameworks for c in configs]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {job: pool.submit(per_request, *job, args.base, args.requests) for job in jobs}
        results = {job: future.result() for job, future in futures.items()}
    for framework in frameworks:
        bare = results[(framework, "bare")]
        print(f"{framework}: instructions per request (callgrind, {args.requests} requests after {args.base})")
        print(f"  {'config':17s} {'instr':>9s} {'+instr':>9s} {'x bare':>7s}  what")
        for config in configs:
            n = results[(framework, config)]
            print(f"  {config:17s} {n:9.0f} {n - bare:+9.0f} {bare / n:7.3f}  {CONFIGS[config]}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
