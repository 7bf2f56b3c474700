"""What each part of obs adds to one request, measured in process, side by side.

The server benchmark (``bench_middleware.py``) is what the issue's targets are judged on, but on a
shared 2-core machine its ratios move by several percent between runs. This one calls the WSGI /
ASGI app directly (no sockets, no server), one process, every configuration built side by side with
its own registry, rounds interleaved; it reports the fastest round (the least disturbed by other
tenants) and the median, in CPU microseconds per request, and what each configuration adds to bare.
It answers "what does feature X cost" to a microsecond, which the server benchmark cannot.

    .venv/bin/python benchmarks/bench_inprocess.py                   # both frameworks
    .venv/bin/python benchmarks/bench_inprocess.py --framework flask --rounds 21

Configurations: the server benchmark's, plus ``obs-sdk-spans`` (obs at 100 % with the SDK's own
``Tracer.start_span`` instead of the lean server spans) to show what ``instrumentation/_span.py``
saves.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_middleware import _instrument_obs

CONFIGS: dict[str, str] = {
    "bare": "no instrumentation",
    "obs-metrics-only": "metrics only",
    "obs-notrace": "metrics + access log",
    "obs-10%": "metrics + access log + traces 10%",
    "obs": "metrics + access log + traces 100% + exemplars",
    "obs-sdk-spans": "as obs, but server spans through the SDK's Tracer.start_span",
}


def _instrument(app: Any, config: str, sink: logging.Handler) -> None:
    from prometheus_client import CollectorRegistry

    _instrument_obs(app, config, registry=CollectorRegistry(), log_handler=sink)


def flask_caller(config: str, sink: logging.Handler) -> Callable[[int], None]:
    from flask import Flask

    app = Flask(f"bench-{config}")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    if config != "bare":
        _instrument(app, config, sink)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/items/42", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
    }  # fmt: skip

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    def run(n: int) -> None:
        for _ in range(n):
            env = dict(environ)
            env["wsgi.input"] = io.BytesIO()
            body = app(env, start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return run


def fastapi_caller(config: str, sink: logging.Handler) -> Callable[[int], None]:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    if config != "bare":
        _instrument(app, config, sink)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/items/42", "raw_path": b"/items/42", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def many(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    loop = asyncio.new_event_loop()
    return lambda n: loop.run_until_complete(many(n))


def measure(framework: str, configs: Sequence[str], rounds: int, per_round: int) -> dict[str, list[float]]:
    sink = logging.FileHandler(os.devnull)
    make = flask_caller if framework == "flask" else fastapi_caller
    callers = {config: make(config, sink) for config in configs}
    # Only the one JSON handler: access lines go to /dev/null once per request, not to stderr too.
    logging.getLogger().handlers[:] = [sink]
    for run in callers.values():
        run(max(200, per_round // 5))  # warm-up: imports, caches, first-request paths
    results: dict[str, list[float]] = {config: [] for config in configs}
    for r in range(rounds):
        order = list(configs[r % len(configs):]) + list(configs[: r % len(configs)])
        for config in order:
            start = time.process_time()
            callers[config](per_round)
            results[config].append((time.process_time() - start) / per_round * 1e6)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=["flask", "fastapi", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=1500, help="requests per configuration per round")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if "bare" not in configs or set(configs) - set(CONFIGS):
        parser.error(f"configs must include 'bare' and be among {', '.join(CONFIGS)}")
    frameworks = ["flask", "fastapi"] if args.framework == "all" else [args.framework]
    for framework in frameworks:
        results = measure(framework, configs, args.rounds, args.requests)
        best_bare = min(results["bare"])
        median_bare = statistics.median(results["bare"])
        print(f"{framework}: CPU µs per request in process, {args.rounds} rounds x {args.requests} requests")
        print(f"  {'config':17s} {'fastest':>8s} {'+µs':>7s} {'median':>8s} {'+µs':>7s}  what")
        for config in configs:
            best, median = min(results[config]), statistics.median(results[config])
            print(
                f"  {config:17s} {best:8.1f} {best - best_bare:+7.1f} {median:8.1f} {median - median_bare:+7.1f}"
                f"  {CONFIGS[config]}"
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
