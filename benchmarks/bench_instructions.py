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

Traced configurations export through a ``SimpleSpanProcessor`` here (the no-op export is counted
on the request): the batch processor's thread runs when the scheduler lets it, so its share, and
whether its queue overflows into warnings, changes from run to run. ``--span-processor batch``
counts the batch processor all the same (the server benchmark's), over enough requests to average
its batches of 512 out: a few thousand (3,000 beyond 200 in the server gave figures within the
~0.5 % run-to-run spread). Ended spans wait in its queue for hundreds of requests, and what they
hold makes the garbage collector run more often and scan more: that cost is counted too.

"x bare" is bare's count over the configuration's: the throughput ratio a CPU-bound server would
see if every instruction cost the same (they do not: cache misses and syscalls are not weighed, so
the server benchmark stays the judge of the issue's targets). Needs valgrind (Debian package).
A run takes a few minutes: each child runs ~50 times slower under valgrind.

``--server`` counts what the issue's server benchmark runs instead: the gunicorn sync worker
(Flask) or uvicorn (FastAPI) process of ``bench_middleware.py``, under callgrind, answering
``--requests`` sequential requests over loopback beyond a ``--base`` run. That includes the
server's HTTP parsing and socket calls in user space but not the kernel's TCP work, which is the
same for every configuration. Its "x bare" does not move with the machine's other tenants (runs
agree to ~0.5 %, with a rare outlier: ``--repeat 3`` reports the median); it is
a proxy, not a bound, for throughput: leaving the kernel out raises the real ratio, weighing every
instruction alike lowers it when the added code misses the caches more than the rest.

    .venv/bin/python benchmarks/bench_instructions.py --server --framework flask --configs bare,obs
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_inprocess import CONFIGS, fastapi_caller, flask_caller
from benchmarks.bench_middleware import CONFIGS as SERVER_CONFIGS
from benchmarks.bench_middleware import ROOT, _server_cmd, free_port, server_env

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(framework: str, config: str, requests: int) -> None:
    """Runs ``requests`` requests through one configuration (the process valgrind measures)."""
    sink = logging.FileHandler(os.devnull)
    run = (flask_caller if framework == "flask" else fastapi_caller)(config, sink)
    logging.getLogger().handlers[:] = [sink]
    run(requests)


def count(framework: str, config: str, requests: int, processor: str = "simple") -> int:
    """Instructions executed by a child process that handles ``requests`` requests."""
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", framework, config, str(requests),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "BENCH_SPAN_PROCESSOR": processor}  # same dict layouts in every child
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{framework}/{config} under callgrind failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def count_server(framework: str, config: str, requests: int, processor: str = "simple") -> int:
    """Instructions the process answering requests executes for ``requests`` requests (plus start-up)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/items/42"
    env = server_env(config, PYTHONHASHSEED="0", BENCH_SPAN_PROCESSOR=processor)
    with tempfile.TemporaryDirectory(prefix="obs-cg-") as out:
        cmd = [
            "valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={out}/cg.%p",
            *_server_cmd(framework, port, pin=False, worker_timeout=900),
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 600
            while True:  # the first answer: everything is imported and warm
                if proc.poll() is not None:
                    raise RuntimeError(f"{framework}/{config} server exited: {proc.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
                try:
                    with urllib.request.urlopen(url, timeout=60) as resp:
                        resp.read()
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{framework}/{config} server not ready under valgrind") from None
                    time.sleep(0.5)
            for _ in range(requests):
                with urllib.request.urlopen(url, timeout=60) as resp:
                    resp.read()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            _, err = proc.communicate(timeout=300)
        # One count per process (gunicorn: master and worker); the one that answered did the most.
        counts = [int(n) for n in _COLLECTED.findall(err.decode(errors="replace"))]
        if not counts:
            raise RuntimeError(f"{framework}/{config}: no callgrind totals:\n{err.decode(errors='replace')[-2000:]}")
        return max(counts)


def per_request(
    framework: str, config: str, base: int, requests: int, server: bool = False, processor: str = "simple"
) -> float:
    measure = count_server if server else count
    longer = measure(framework, config, base + requests, processor)
    return (longer - measure(framework, config, base, processor)) / requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=["flask", "fastapi", "all"], default="all")
    parser.add_argument("--configs", help="comma-separated (default: all of the chosen benchmark's)")
    parser.add_argument("--base", type=int, default=100, help="requests in the shorter run (warm-up included)")
    parser.add_argument("--requests", type=int, default=1000, help="extra requests in the longer run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children run at once")
    parser.add_argument("--server", action="store_true", help="count the server process of bench_middleware.py")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per configuration (median reported)")
    parser.add_argument(
        "--span-processor",
        choices=["simple", "batch"],
        default="simple",
        help="how traced configurations export (batch: the server benchmark's; count a few thousand "
        "requests to average its batches of 512 spans)",
    )
    parser.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "CONFIG", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    known = SERVER_CONFIGS if args.server else CONFIGS
    configs = [c for c in (args.configs or ",".join(known)).split(",") if c]
    if "bare" not in configs or set(configs) - set(known):
        parser.error(f"configs must include 'bare' and be among {', '.join(known)}")
    frameworks = ["flask", "fastapi"] if args.framework == "all" else [args.framework]
    repeat = max(1, args.repeat)
    jobs = [(f, c, r) for f in frameworks for c in configs for r in range(repeat)]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {job: pool.submit(per_request, *job[:2], args.base, args.requests, args.server, args.span_processor) for job in jobs}
        samples: dict[tuple[str, str], list[float]] = {}
        for (framework, config, _), future in futures.items():
            samples.setdefault((framework, config), []).append(future.result())
    # The median of --repeat measurements: a server run now and then counts far more than the
    # others (Flask bare once read 989.7k per request against 924.9k-929.8k in four other runs;
    # the cause is not pinned down), which one measurement per configuration cannot tell.
    results = {job: statistics.median(values) for job, values in samples.items()}
    for framework in frameworks:
        bare = results[(framework, "bare")]
        where = "server process, user space" if args.server else "in process"
        print(f"(traced configurations export through a {args.span_processor} span processor: see the docstring)")
        print(f"{framework}: instructions per request, {where} (callgrind, {args.requests} requests after {args.base})")
        print(f"  {'config':17s} {'instr':>9s} {'+instr':>9s} {'x bare':>7s}  what")
        for config in configs:
            n = results[(framework, config)]
            values = samples[(framework, config)]
            spread = f"  (of {min(values):.0f}..{max(values):.0f})" if repeat > 1 else ""
            print(f"  {config:17s} {n:9.0f} {n - bare:+9.0f} {bare / n:7.3f}  {known[config]}{spread}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
