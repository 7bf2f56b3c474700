"""Throughput of a bare app, obs, and the usual instrumentation combinations, side by side.

FastAPI runs under uvicorn, Flask under gunicorn (one sync worker); the server is pinned to core 0
(``taskset -c 0``) and ``wrk`` to core 1, both on 127.0.0.1 with free ports. Each round starts a
fresh server per configuration, side by side, and measures them one after the other (order rotated
per round); the median of the rounds is reported with the ratio to bare and the microseconds each
configuration adds per request (1e6/rps_cfg - 1e6/rps_bare), with the server's CPU time per request
(steadier than requests/s on a shared machine).

    .venv/bin/python benchmarks/bench_middleware.py                 # 2 s x 9 rounds
    .venv/bin/python benchmarks/bench_middleware.py --quick         # 2 s x 3 rounds
    .venv/bin/python benchmarks/bench_middleware.py --duration 10 --rounds 5 --framework flask
    .venv/bin/python benchmarks/bench_middleware.py --framework flask --configs bare,obs --concurrent --rounds 15
    .venv/bin/python benchmarks/bench_middleware.py --framework flask --configs bare,obs --alternate --rounds 40 --duration 1

``--concurrent`` measures every configuration of a round at the same time: all servers share core 0
(the scheduler gives each an equal share of it) and their wrk clients share core 1. Each round's
ratios then compare configurations under the very same machine conditions, which sequential runs
seconds apart do not on a shared VM: there one round's Flask ratio for the same build ranged from
0.64 to 1.07, against a spread (standard deviation) of 0.015-0.035 concurrently. The servers do
evict each other's caches when they take turns, and how many take turns changes the ratio: the
same Flask build read 0.84-0.85 with bare and obs alone and 0.85-0.88 with six configurations.
Compare runs with the same configurations; ``--configs bare,obs`` is the conservative reading.

``--alternate`` keeps the issue's setup (one server on core 0 at a time) and pairs conditions more
tightly than a plain sequential round: each configuration is measured there and back (bare, obs,
obs, bare), so a drift within the round weighs on both alike. On this VM the machine's speed
changes within a second, so its per-round spread stays large (0.12 for Flask bare and obs with
1-s measurements): it needs many short rounds (``--rounds 40 --duration 1``). Two such runs read
0.853 and 0.87 where the concurrent reading was 0.83-0.85.

The same file is the app factory the servers import (``BENCH_CONFIG`` picks the configuration).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

#: name -> what it measures. "obs-notrace" is obs with tracing off (metrics, exemplars n/a, access
#: log on): the 10 %-sampling target compares against it, so the difference is tracing alone.
CONFIGS: dict[str, str] = {
    "bare": "no instrumentation",
    "obs": "obs: traces 100% (batch processor, no-op exporter), metrics, exemplars, access log",
    "obs-unbuffered": "obs, each access line written at once (access_log_flush_interval=0)",
    "obs-10%": "obs: traces 10%, metrics, exemplars, access log",
    "obs-notrace": "obs: metrics and access log, tracing off",
    "obs-metrics-only": "obs: metrics only (no traces, no access log)",
    "usual": "OTel contrib instrumentation (100%, no-op exporter) + prometheus exporter library",
}
FRAMEWORKS = ("fastapi", "flask")
TARGETS = {"fastapi": 0.60, "flask": 0.85}


# --- the apps (imported by the servers) ------------------------------------------------------


def _noop_tracer_provider(ratio: float = 1.0) -> Any:
    """The provider obs builds (its batch processor, ``exporters.otlp.build_span_processor``, of the
    tree being measured), exporting to nowhere."""
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from exporters.otlp import build_span_processor

    class NoopExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    # bench_instructions.py asks for the simple processor: the batch processor's thread runs when
    # the scheduler lets it, so what it costs (and whether its queue overflows) varies by run.
    simple = os.environ.get("BENCH_SPAN_PROCESSOR") == "simple"
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()) if simple else build_span_processor(NoopExporter()))
    return provider


def _instrument_obs(app: Any, config: str, *, registry: Any = None, log_handler: Any = None) -> Any:
    """obs as ``config`` says; also used by ``bench_inprocess.py`` (its own registry and handler)."""
    import logging

    from instrumentation import instrument

    tracing = config in ("obs", "obs-unbuffered", "obs-10%", "obs-sdk-spans")
    state = instrument(
        app,
        service_name="bench",
        environment="bench",
        registry=registry,
        tracer_provider=_noop_tracer_provider(0.1 if config == "obs-10%" else 1.0) if tracing else None,
        traces=tracing,
        access_log=config != "obs-metrics-only",
        access_log_flush_interval=0 if config == "obs-unbuffered" else None,  # None: the default
        json_logs=config != "obs-metrics-only",
        log_handler=log_handler or logging.FileHandler(os.devnull),
        trace_clients=False,
    )
    if config == "obs-sdk-spans":  # bench_inprocess: the SDK's own Tracer.start_span, for comparison
        state.telemetry.lean_spans = None
    # Access lines go only to /dev/null, not to the console as well.
    logging.getLogger("obs.access").propagate = True
    return state


def make_fastapi_app() -> Any:
    from fastapi import FastAPI

    config = os.environ.get("BENCH_CONFIG", "bare")
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    if config.startswith("obs"):
        _instrument_obs(app, config)
    elif config == "usual":
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from prometheus_fastapi_instrumentator import Instrumentator

        FastAPIInstrumentor.instrument_app(app, tracer_provider=_noop_tracer_provider())
        Instrumentator().instrument(app).expose(app)
    return app


def make_flask_app() -> Any:
    from flask import Flask

    config = os.environ.get("BENCH_CONFIG", "bare")
    app = Flask("bench")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    if config.startswith("obs"):
        _instrument_obs(app, config)
    elif config == "usual":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from prometheus_flask_exporter import PrometheusMetrics

        FlaskInstrumentor().instrument_app(app, tracer_provider=_noop_tracer_provider())
        PrometheusMetrics(app)
    return app


# --- the driver ---------------------------------------------------------------------------------


@contextlib.contextmanager
def exported(revision: str) -> Iterator[Path]:
    """``revision`` of this repository as files in a temporary directory (removed afterwards)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="obs-bench-base-") as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=False)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {revision}: {archive.stderr.decode(errors='replace').strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_cmd(framework: str, port: int, *, pin: bool = True, worker_timeout: int | None = None) -> list[str]:
    """The server command: pinned to core 0 here; ``bench_instructions.py`` runs it unpinned under
    valgrind, where gunicorn's worker timeout must outlast valgrind's pace."""
    prefix = ["taskset", "-c", "0"] if pin else []
    if framework == "fastapi":
        return [
            *prefix, str(VENV_BIN / "uvicorn"), "benchmarks.bench_middleware:make_fastapi_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    timeout = ["--timeout", str(worker_timeout)] if worker_timeout is not None else []
    return [
        *prefix, str(VENV_BIN / "gunicorn"), "benchmarks.bench_middleware:make_flask_app()",
        "-w", "1", "-k", "sync", "-b", f"127.0.0.1:{port}", "--log-level", "warning", *timeout,
    ]  # fmt: skip


#: A configuration of another build (``--base REV``): ``obs@base`` is ``obs`` as that revision has it.
BASE_SUFFIX = "@base"


def server_env(config: str, tree: Path = ROOT, **extra: str) -> dict[str, str]:
    """The server's environment: ``BENCH_CONFIG`` set, the caller's OTel/obs/multiprocess settings removed."""
    env = {**os.environ, "BENCH_CONFIG": config, "PYTHONPATH": str(tree), **extra}
    for key in [k for k in env if k.startswith(("OTEL_", "OBS_", "PROMETHEUS_MULTIPROC"))]:
        del env[key]
    return env


@contextlib.contextmanager
def servers(
    framework: str, configs: Sequence[str], timeout: float = 60.0, base: Path | None = None
) -> Iterator[dict[str, tuple[str, int]]]:
    """One fresh server per configuration, started together: config -> (url, session id). A
    ``config@base`` runs ``config`` from the ``base`` tree (another revision, exported)."""
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for config in configs:
            port = free_port()
            tree = base if config.endswith(BASE_SUFFIX) and base is not None else ROOT
            proc = subprocess.Popen(
                _server_cmd(framework, port), cwd=tree, env=server_env(config.removesuffix(BASE_SUFFIX), tree),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
            procs[config] = (proc, f"http://127.0.0.1:{port}/items/42")
        deadline = time.monotonic() + timeout
        for config, (proc, url) in procs.items():
            _wait_ready(framework, config, proc, url, deadline)
        yield {config: (url, proc.pid) for config, (proc, url) in procs.items()}
    finally:
        for proc, _ in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _wait_ready(framework: str, config: str, proc: subprocess.Popen[bytes], url: str, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{framework}/{config} server exited: {err[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{framework}/{config} server not ready in time")
        time.sleep(0.05)


def session_cpu_seconds(session: int) -> float:
    """User+system CPU time of every process in the server's session (gunicorn master + worker).

    Throughput on a shared machine moves with other load; the server's own CPU time per request
    moves much less, so it is reported beside requests/s.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state ppid pgrp session ... utime(12) stime(13) (0-based from state).
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_wrk(url: str, duration: float, connections: int) -> tuple[float, int]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not match or not count:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx responses from {url}")
    return float(match.group(1)), int(count.group(1))


def measure(url: str, session: int, duration: float, connections: int) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one wrk run against a running server."""
    cpu_before = session_cpu_seconds(session)
    rps, requests = run_wrk(url, duration, connections)
    cpu = session_cpu_seconds(session) - cpu_before
    return rps, cpu * 1e6 / max(requests, 1)


def measure_round(
    running: dict[str, tuple[str, int]], order: Sequence[str], duration: float, args: argparse.Namespace
) -> list[tuple[float, float]]:
    """(requests/s, CPU us per request) of each configuration in ``order``: one after the other, or
    all at once with ``--concurrent``; with ``--alternate``, one after the other and back (ABBA),
    each configuration's two measurements averaged."""
    if args.alternate:
        there = [measure(*running[config], duration, args.connections) for config in order]
        back = [measure(*running[config], duration, args.connections) for config in reversed(order)][::-1]
        return [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(there, back, strict=True)]
    if not args.concurrent:
        return [measure(*running[config], duration, args.connections) for config in order]
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        futures = [pool.submit(measure, *running[config], duration, args.connections) for config in order]
        return [future.result() for future in futures]


def paired_ratios(values: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``values[r] / reference[r]`` for each round ``r``."""
    return [v / ref for v, ref in zip(values, reference, strict=True)]


def paired_median(values: Sequence[float], reference: Sequence[float]) -> float:
    """Median over rounds of ``values[r] / reference[r]``."""
    return statistics.median(paired_ratios(values, reference))


def median_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """A bootstrap interval for the median of ``values`` (percentile method, fixed seed so that a
    report can be reproduced from its rounds): the per-round ratios of this VM spread by ~0.1, and a
    median of 40 rounds is then uncertain by a few points, which a target sitting near the line
    must show."""
    if len(values) < 2:
        raise ValueError("an interval needs at least two rounds")
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    return medians[int(tail * resamples)], medians[min(resamples - 1, int((1 - tail) * resamples))]


def target_verdict(ratios: Sequence[float], target: float) -> str:
    """'met' when the whole 95 % interval of the median ratio is at or above ``target``, 'MISSED'
    when it is below, and otherwise which side the median is on, with the interval."""
    median = statistics.median(ratios)
    low, high = median_interval(ratios)
    interval = f"median {median:.3f}, 95% interval [{low:.3f}, {high:.3f}] over {len(ratios)} rounds"
    if low >= target:
        return f"met ({interval})"
    if high < target:
        return f"MISSED ({interval})"
    side = "met on the median" if median >= target else "missed on the median"
    return f"{side}, not established ({interval})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of wrk per measurement")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (median reported; at least 3)")
    parser.add_argument("--quick", action="store_true", help="2 s per measurement, 1 s warm-up")
    parser.add_argument("--framework", choices=[*FRAMEWORKS, "all"], default="all")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS).replace("%", "%%"))
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the medians here")
    parser.add_argument(
        "--base", help="a git revision (e.g. the main this tree starts from): config@base runs config as it has it"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--concurrent", action="store_true", help="measure a round's configurations at the same time (see above)"
    )
    mode.add_argument(
        "--alternate", action="store_true", help="one server at a time, there and back in each round (see above)"
    )
    args = parser.parse_args(argv)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'})")
            return 2
    duration = 2.0 if args.quick else args.duration
    warmup = 1.0
    rounds = 3 if args.quick else max(3, args.rounds)
    configs = [c for c in args.configs.split(",") if c]
    if args.base is None and any(c.endswith(BASE_SUFFIX) for c in configs):
        parser.error(f"configs ending in {BASE_SUFFIX} need --base REV")
    unknown = {c.removesuffix(BASE_SUFFIX) for c in configs} - set(CONFIGS)
    if unknown or "bare" not in configs:
        parser.error(f"unknown configs {sorted(unknown)}" if unknown else "'bare' is required (ratios are to bare)")
    frameworks = FRAMEWORKS if args.framework == "all" else (args.framework,)

    with contextlib.ExitStack() as stack:
        base = stack.enter_context(exported(args.base)) if args.base is not None else None
        return _run(args, frameworks, configs, rounds, duration, warmup, base)


def _run(
    args: argparse.Namespace, frameworks: Sequence[str], configs: list[str], rounds: int, duration: float,
    warmup: float, base: Path | None,
) -> int:
    results: dict[str, dict[str, list[float]]] = {f: {c: [] for c in configs} for f in frameworks}
    cpu: dict[str, dict[str, list[float]]] = {f: {c: [] for c in configs} for f in frameworks}
    for framework in frameworks:
        for r in range(rounds):
            # Fresh servers every round, all configurations side by side: a process's own luck
            # (memory layout, hash seed) and the machine's drift over minutes are both spread over
            # the rounds, and each round's ratios compare runs seconds apart.
            with servers(framework, configs, base=base) as running:
                for url, _ in running.values():
                    run_wrk(url, warmup, args.connections)
                # Rotate the order each round so that drift (thermal, caches) is spread over configs.
                order = configs[r % len(configs):] + configs[: r % len(configs)]
                for config, (rps, cpu_us) in zip(order, measure_round(running, order, duration, args), strict=True):
                    results[framework][config].append(rps)
                    cpu[framework][config].append(cpu_us)
                    print(f"round {r + 1}/{rounds} {framework:8s} {config:17s} {rps:10.1f} req/s {cpu_us:8.1f} cpu-us/req", flush=True)

    summary: dict[str, dict[str, dict[str, float]]] = {}
    print()
    for framework in frameworks:
        bare = statistics.median(results[framework]["bare"])
        how = (
            ", configurations of a round measured concurrently" if args.concurrent
            else ", each configuration measured there and back (ABBA) in a round" if args.alternate
            else ""
        )  # fmt: skip
        print(
            f"{framework} ({'uvicorn' if framework == 'fastapi' else 'gunicorn sync, 1 worker'}), median of {rounds} rounds"
            f"{how} (req/s, cpu: medians; x bare: median of the per-round ratios):"
        )
        print(f"  {'config':17s} {'req/s':>10s} {'x bare':>8s} {'+us/req':>8s} {'cpu-us/req':>11s} {'+cpu-us':>8s}")
        bare_cpu = statistics.median(cpu[framework]["bare"])
        summary[framework] = {}
        for config in configs:
            rps = statistics.median(results[framework][config])
            # Paired: each round's ratio to the bare run of the same round, then the median. The speed
            # of a shared machine drifts by tens of percent over minutes; a round takes seconds.
            ratio = paired_median(results[framework][config], results[framework]["bare"])
            added = 1e6 / (bare * ratio) - 1e6 / bare
            cpu_us = statistics.median(cpu[framework][config])
            cpu_ratio = paired_median(cpu[framework]["bare"], cpu[framework][config])
            summary[framework][config] = {
                "rps": rps, "ratio": ratio, "added_us": added, "cpu_us": cpu_us, "added_cpu_us": cpu_us - bare_cpu,
                "cpu_ratio": cpu_ratio,
            }  # fmt: skip
            spread = statistics.stdev(paired_ratios(results[framework][config], results[framework]["bare"]))
            summary[framework][config]["ratio_stdev"] = spread
            print(
                f"  {config:17s} {rps:10.1f} {ratio:8.2f} {added:+8.1f} {cpu_us:11.1f} {cpu_us - bare_cpu:+8.1f}"
                f"   (per-round ratio stdev {spread:.3f})"
            )
        s = summary[framework]
        if "obs" in s:
            target = TARGETS[framework]
            by_rps = paired_ratios(results[framework]["obs"], results[framework]["bare"])
            by_cpu = paired_ratios(cpu[framework]["bare"], cpu[framework]["obs"])
            # rounds >= 3 always: an interval can be drawn.
            print(f"  target obs >= {target:.2f} x bare, by req/s: {target_verdict(by_rps, target)}")
            print(f"  target obs >= {target:.2f} x bare, by server CPU per request: {target_verdict(by_cpu, target)}")
        for config in [c for c in configs if c.endswith(BASE_SUFFIX)]:
            this = config.removesuffix(BASE_SUFFIX)
            if this in s:
                # Points of the ratio to bare, this tree minus the base, per round (the same bare).
                gaps = [a - b for a, b in zip(
                    paired_ratios(results[framework][this], results[framework]["bare"]),
                    paired_ratios(results[framework][config], results[framework]["bare"]), strict=True,
                )]  # fmt: skip
                low, high = median_interval(gaps)
                print(f"  {this} vs {this} of {args.base}: {statistics.median(gaps):+.3f} x bare [{low:+.3f}, {high:+.3f}]")
        # "Within 5 % of metrics-only", read two ways: against obs with tracing off (the cost of
        # tracing alone) and against metrics alone (tracing and the access log together).
        for reference, what in (("obs-notrace", "tracing at 10%"), ("obs-metrics-only", "tracing at 10% + access log")):
            if "obs-10%" in s and reference in s:
                gap = 1 - paired_median(results[framework]["obs-10%"], results[framework][reference])
                verdict = "met" if gap <= 0.05 else "MISSED"
                print(f"  obs-10% vs {reference}: {gap:+.1%} throughput cost of {what} ({verdict} <= 5%)")
        print()
    print("configs:")
    for config in configs:
        name = config.removesuffix(BASE_SUFFIX)
        print(f"  {config:17s} {CONFIGS[name]}{f' (as {args.base} has it)' if name != config else ''}")
    if args.json:
        args.json.write_text(json.dumps(
            {"rounds": rounds, "duration": duration, "results": results, "cpu_us": cpu, "summary": summary}, indent=2
        ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
