"""``obs demo``: the generated stack of one environment, running for real on 127.0.0.1, with
traffic, incidents and a live view, ending with an HTML report (see docs/demo.md)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from obs.cli._output import Output
from obs.extras import BUILD, require
from obs.runtime import ProcessError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")


def _duration(text: str) -> float:
    """Wall-clock seconds: ``90``, ``90s``, ``5m`` or ``1h``."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 90s, 5m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time scale between 1 (real time) and 600")
    return value


def _scenario(text: str) -> tuple[str, ...]:
    from obs.demo.scenario import INCIDENT_KINDS

    if text in ("", "none"):
        return ()
    if text == "all":
        return INCIDENT_KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in INCIDENT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: not an incident; use all, none, or any of {','.join(INCIDENT_KINDS)}")
    return kinds


def add_demo_parser(sub: Any) -> None:
    """Register ``obs demo`` on the CLI's subcommands."""
    p = sub.add_parser("demo", help="run an environment's generated stack for real on 127.0.0.1, with traffic, incidents and a live view")
    p.add_argument("--platform", metavar="FILE", help="platform definition; default: as for obs build")
    p.add_argument("--env", metavar="ENV", help="environment to run (default: the platform's first)")
    p.add_argument("--time-scale", type=_scale, default=30.0, metavar="N", help="divide rule windows, for durations and Alertmanager timings by N (1: real time; default 30)")
    p.add_argument("--duration", type=_duration, metavar="D", help="end after D of wall time (90s, 5m); default: when the scenario ends")
    p.add_argument("--scenario", type=_scenario, default="all", metavar="KINDS", help="incidents to play: all (default), none, or a comma list of errors,latency,dependency,service")
    p.add_argument("--rate", type=float, default=10.0, metavar="R", help="requests per second sent to each service (default 10)")
    p.add_argument("--workers", type=int, default=3, metavar="N", help="gunicorn workers of each Flask service (default 3)")
    p.add_argument("--run-dir", metavar="DIR", help="private folder for the build, secrets, data and logs (default: a new one in the temp folder)")
    p.add_argument("--no-live", action="store_true", help="print timeline lines instead of redrawing the view")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format (json: no live view)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs demo")
    from obs.demo.run import DemoOptions, run_demo
    from obs.demo.stack import StackOptions
    from obs.loader import load_project

    scenario = args.scenario if isinstance(args.scenario, tuple) else _scenario(args.scenario)
    if args.workers < 1:
        return out.error("--workers: at least 1", EXIT_USAGE)
    project = load_project(args.platform)
    project.platform.environment(args.env)  # an unknown environment stops here, before anything starts
    stack = StackOptions(project, args.env, args.time_scale, Path(args.run_dir) if args.run_dir else None, args.workers)
    options = DemoOptions(stack, scenario, args.duration, args.rate, live=not args.no_live and not out.json)
    try:
        # With --format json, stdout holds only the result: the timeline goes to stderr.
        result = run_demo(options, out=sys.stderr if out.json else sys.stdout, progress=out.progress)
    except ProcessError as exc:
        return out.error(str(exc), EXIT_FAILED)
    out.result(
        f"demo ended ({result.reason}) after {result.wall_seconds:.0f} s; everything it started is stopped\n"
        f"report: {result.report}\nlogs, build and data: {result.run_dir}",
        {"ok": True, "report": str(result.report), "run_dir": str(result.run_dir), "seconds": round(result.wall_seconds, 1), "reason": result.reason},
    )
    return EXIT_OK


__all__ = ["add_demo_parser", "cmd_demo"]
