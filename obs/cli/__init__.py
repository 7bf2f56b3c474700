"""``obs``: a thin command-line shell over the library.

Exit codes (stable, for CI):
  0  success
  1  a check, a test or ``diff`` found a problem (or, with --strict, a check was skipped)
  2  the command line is wrong
  3  the platform definition or a generated expression is invalid (nothing was written)
  4  a required external tool (promtool, amtool) or Python extra is missing
  5  the output folder cannot be used or written (nothing in it changed)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from obs import __version__
from obs.artifacts import GROUPS
from obs.cli._output import Output
from obs.cli.commands import cmd_build, cmd_check, cmd_list, cmd_preview, cmd_schema, cmd_test
from obs.cli.demo import add_demo_parser
from obs.cli.diff import FORMATS as DIFF_FORMATS
from obs.cli.diff import add_arguments as add_diff_arguments
from obs.cli.diff import cmd_diff
from obs.errors import ObsError, ToolNotFoundError
from obs.extras import MissingExtraError
from obs.writer import OutputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_TOOL, EXIT_OUTPUT = 0, 1, 2, 3, 4, 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obs", description="Observability stack as code.")
    parser.add_argument("--version", action="version", version=f"obs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, out_default: str = "build", formats: tuple[str, ...] = ("text", "json")) -> None:
        p.add_argument(
            "--platform",
            metavar="FILE",
            help="platform definition (.yaml, .py or a module); default: $OBS_PLATFORM, [tool.obs] platform in pyproject.toml, or ./obs.yaml",
        )
        p.add_argument("--env", action="append", metavar="ENV", help="environment (repeatable); default: all")
        p.add_argument("--only", action="append", metavar="GROUP", choices=[g.name for g in GROUPS], help="artifact group (repeatable); default: all")
        p.add_argument("--out", default=out_default, metavar="DIR", help=f"output folder (default: {out_default})")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
        p.add_argument("--format", choices=formats, default="text", help=f"result format: {', '.join(formats)} (json for CI)")

    p = sub.add_parser("build", help="render, verify and write the stack into --out (only the environments and groups asked for)")
    common(p)
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("check", help="run every available validator (promtool, amtool, schemas) on --out; with --platform, build first")
    common(p)
    p.add_argument("--strict", action="store_true", help="a skipped check (tool missing) fails the run")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("test", help="run the promtool and amtool unit tests of --out; with --platform, build first")
    common(p)
    p.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    p.set_defaults(func=cmd_test, strict=False)
    p = sub.add_parser("list", help="show what would be generated")
    common(p)
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("diff", help="show how a fresh render differs from --out, or (--base) what a change does to the stack; exit 1 if anything differs")
    common(p, formats=DIFF_FORMATS)
    add_diff_arguments(p)
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("schema", help="print the JSON Schema of platform YAML files (--alerts: of alert files)")
    p.add_argument("--alerts", action="store_true", help="the schema of YAML alert files instead")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--format", choices=("text", "json"), default="json")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("preview", help="render a dashboard to HTML and PNG with data from a Prometheus")
    p.add_argument("dashboard", help="dashboard uid, e.g. obs-svc-backend")
    p.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    common(p, out_default=str(Path(tempfile.gettempdir()) / "obs-preview"))
    p.set_defaults(func=cmd_preview)
    add_demo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = Output(args.quiet, args.format)
    try:
        code: int = args.func(args, out)
    except (ToolNotFoundError, MissingExtraError) as exc:
        return out.error(str(exc), EXIT_TOOL)
    except OutputError as exc:
        return out.error(str(exc), EXIT_OUTPUT)
    except ObsError as exc:
        return out.error(f"{exc}\nnothing was written", EXIT_INVALID)
    except KeyboardInterrupt:
        return out.error("interrupted", 130)
    except BrokenPipeError:
        # `obs schema | head`: the reader left; say nothing more and do not let Python complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code


__all__ = ["main"]
