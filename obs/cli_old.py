"""``obs``: a thin command-line shell over the library.

Exit codes (stable, for CI):
  0  success
  1  a check, a test or ``diff`` found a problem (or, with --strict, a check was skipped)
  2  the command line is wrong
  3  the platform definition or a generated expression is invalid (nothing was written)
  4  a required external tool (promtool, amtool) is missing and cannot run through docker
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from obs import __version__
from obs.artifacts import GROUPS, Outcome
from obs.build import build, render, select_groups
from obs.errors import ObsError, ToolNotFoundError
from obs.loader import load_platform, platform_json_schema
from obs.model import Platform

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_TOOL = 0, 1, 2, 3, 4


class _Output:
    """Progress goes to stderr (silenced by --quiet); results go to stdout as text or JSON."""

    def __init__(self, quiet: bool, fmt: str) -> None:
        self.quiet = quiet
        self.json = fmt == "json"

    def progress(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def result(self, text: str, data: dict[str, Any]) -> None:
        if self.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        elif text:
            print(text)

    def error(self, message: str, code: int) -> int:
        if self.json:
            print(json.dumps({"ok": False, "error": message, "exit_code": code}, indent=2, sort_keys=True))
        else:
            print(f"obs: error: {message}", file=sys.stderr)
        return code


def _platform(args: argparse.Namespace) -> Platform:
    return load_platform(args.platform)


def _progress_cb(out: _Output):  # type: ignore[no-untyped-def]
    def report(env: str, group: str, count: int) -> None:
        out.progress(f"  {env:<8} {group:<15} {count:>3} file{'s' if count != 1 else ''}")

    return report


def cmd_build(args: argparse.Namespace, out: _Output) -> int:
    platform = _platform(args)
    out.progress(f"obs {__version__}: building platform {platform.name!r} into {args.out}/")
    result = build(platform, Path(args.out), args.env or None, args.only or None, _progress_cb(out))
    total = len(result.files)
    out.result(
        f"built {total} files for {', '.join(result.environments)} into {args.out}/",
        {"ok": True, "out": str(args.out), "environments": list(result.environments), "files": sorted(result.files), "counts": dict(result.counts)},
    )
    return EXIT_OK


def _run_outcomes(
    args: argparse.Namespace, out: _Output, kind: str
) -> tuple[list[dict[str, str]], bool]:
    platform = _platform(args)
    result = build(platform, Path(args.out), args.env or None, args.only or None, _progress_cb(out))
    records: list[dict[str, str]] = []
    failed = False
    for env in result.environments:
        env_dir = Path(args.out) / env
        for group in select_groups(args.only or None):
            runner = group.check if kind == "check" else group.test
            if runner is None:
                continue
            outcomes: Iterable[Outcome] = runner(env_dir)
            for outcome in outcomes:
                records.append({"environment": env, "group": group.name, "name": outcome.name, "status": outcome.status, "detail": outcome.detail})
                if outcome.status == "failed" or (outcome.status == "skipped" and args.strict):
                    failed = True
                mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[outcome.status]
                line = f"  {mark} {env:<8} {group.name:<15} {outcome.name}"
                if outcome.status != "passed" and outcome.detail:
                    line += "\n" + "\n".join(f"         {d}" for d in outcome.detail.splitlines()[:40])
                out.progress(line)
    return records, failed


def cmd_check(args: argparse.Namespace, out: _Output) -> int:
    records, failed = _run_outcomes(args, out, "check")
    counts = {s: sum(r["status"] == s for r in records) for s in ("passed", "failed", "skipped")}
    skipped = sorted({f"{r['name']}: {r['detail'].splitlines()[0] if r['detail'] else ''}" for r in records if r["status"] == "skipped"})
    text = f"checks: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    if skipped:
        text += "\nskipped:\n" + "\n".join(f"  {s}" for s in skipped)
    out.result(text, {"ok": not failed, "outcomes": records, **counts})
    return EXIT_FAILED if failed else EXIT_OK


def cmd_test(args: argparse.Namespace, out: _Output) -> int:
    records, failed = _run_outcomes(args, out, "test")
    if not records:
        return out.error("no artifact group in this build has tests", EXIT_FAILED)
    skipped_tools = [r for r in records if r["status"] == "skipped"]
    if skipped_tools and all(r["status"] == "skipped" for r in records):
        return out.error(skipped_tools[0]["detail"], EXIT_TOOL)
    counts = {s: sum(r["status"] == s for r in records) for s in ("passed", "failed", "skipped")}
    out.result(f"tests: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped", {"ok": not failed, "outcomes": records, **counts})
    return EXIT_FAILED if failed else EXIT_OK


def cmd_list(args: argparse.Namespace, out: _Output) -> int:
    platform = _platform(args)
    result = render(platform, args.env or None, args.only or None)
    lines = [f"platform {platform.name!r}: {len(result.files)} files"]
    lines.extend(f"  {path}" for path in sorted(result.files))
    groups = [{"name": g.name, "description": g.description} for g in select_groups(args.only or None)]
    out.result("\n".join(lines), {"platform": platform.name, "files": sorted(result.files), "groups": groups})
    return EXIT_OK


def cmd_diff(args: argparse.Namespace, out: _Output) -> int:
    platform = _platform(args)
    result = render(platform, args.env or None, args.only or None)
    base = Path(args.out)
    existing = {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()} if base.is_dir() else {}
    if args.env:
        existing = {k: v for k, v in existing.items() if k.split("/", 1)[0] in args.env or k == "manifest.json"}
    added = sorted(set(result.files) - set(existing))
    removed = sorted(set(existing) - set(result.files))
    changed = sorted(p for p in set(result.files) & set(existing) if result.files[p] != existing[p])
    lines: list[str] = []
    for path in changed:
        lines.extend(
            difflib.unified_diff(
                existing[path].decode(errors="replace").splitlines(),
                result.files[path].decode(errors="replace").splitlines(),
                f"{base}/{path}",
                f"rendered/{path}",
                lineterm="",
            )
        )
    lines.extend(f"added: {p}" for p in added)
    lines.extend(f"removed: {p}" for p in removed)
    same = not (added or removed or changed)
    out.result("\n".join(lines) if lines else f"{base}/ is up to date", {"ok": same, "added": added, "removed": removed, "changed": changed})
    return EXIT_OK if same else EXIT_FAILED


def cmd_schema(args: argparse.Namespace, out: _Output) -> int:
    print(json.dumps(platform_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, out: _Output) -> int:
    from obs.preview import preview

    platform = _platform(args)
    html, png = preview(platform, args.dashboard, args.prometheus, Path(args.out), env=args.env[0] if args.env else None)
    out.result(
        f"preview: {html}" + (f"\n         {png}" if png else "\n         (no PNG: chromium not found)"),
        {"ok": True, "html": str(html), "png": str(png) if png else None},
    )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obs", description="Observability stack as code.")
    parser.add_argument("--version", action="version", version=f"obs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, out_default: str = "build") -> None:
        p.add_argument("--platform", metavar="FILE", help="platform definition (.py module or .yaml); default: the built-in platform")
        p.add_argument("--env", action="append", metavar="ENV", help="environment to build (repeatable); default: all")
        p.add_argument("--only", action="append", metavar="GROUP", choices=[g.name for g in GROUPS], help="artifact group (repeatable); default: all")
        p.add_argument("--out", default=out_default, metavar="DIR", help=f"output folder (default: {out_default})")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
        p.add_argument("--format", choices=("text", "json"), default="text", help="result format (json for CI)")

    p = sub.add_parser("build", help="render every artifact into --out, atomically")
    common(p)
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("check", help="build, then run every available validator (promtool, amtool, schemas)")
    common(p)
    p.add_argument("--strict", action="store_true", help="a skipped check (tool missing) fails the run")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("test", help="build, then run the promtool unit tests of the rules")
    common(p)
    p.set_defaults(func=cmd_test, strict=False)
    p = sub.add_parser("list", help="show what would be generated")
    common(p)
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("diff", help="show how a fresh render differs from --out (exit 1 if it does)")
    common(p)
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("schema", help="print the JSON Schema of platform YAML files")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--format", choices=("text", "json"), default="json")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("preview", help="render a dashboard to HTML and PNG with data from a Prometheus")
    p.add_argument("dashboard", help="dashboard uid, e.g. obs-svc-backend")
    p.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    common(p, out_default=str(Path(tempfile.gettempdir()) / "obs-preview"))
    p.set_defaults(func=cmd_preview)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = _Output(args.quiet, args.format)
    try:
        code: int = args.func(args, out)
    except ToolNotFoundError as exc:
        return out.error(str(exc), EXIT_TOOL)
    except ObsError as exc:
        return out.error(f"{exc}\nnothing was written", EXIT_INVALID)
    except KeyboardInterrupt:
        return out.error("interrupted", 130)
    return code


if __name__ == "__main__":
    sys.exit(main())
