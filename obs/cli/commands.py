"""The commands of ``obs``, each a function of the parsed arguments and the output channel."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from obs import __version__
from obs.artifacts import Outcome
from obs.builder import BuildResult, build, render, select_groups
from obs.cli._output import Output
from obs.cli.junit import write_junit
from obs.convert import platform_json_schema
from obs.extras import BUILD, require
from obs.loader import Project, load_project
from obs.writer import MANIFEST, OutputError, check_out, read_manifest

EXIT_OK, EXIT_FAILED = 0, 1


def _project(args: argparse.Namespace) -> Project:
    return load_project(args.platform)


def _progress(out: Output):  # type: ignore[no-untyped-def]
    def report(env: str, group: str, count: int) -> None:
        out.progress(f"  {env:<8} {group:<15} {count:>3} file{'s' if count != 1 else ''}")

    return report


def _build(args: argparse.Namespace, out: Output, project: Project) -> BuildResult:
    platform = project.platform
    protect = [p for p in (project.source, project.root) if p is not None]
    check_out(args.out, protect)
    out.progress(f"obs {__version__}: building platform {platform.name!r} into {args.out}/")
    result = build(
        platform,
        Path(args.out),
        args.env or None,
        args.only or None,
        _progress(out),
        project.root,
        project.allow_code,
        protect=protect,
    )
    out.timings(dict(result.timings))
    return result


def cmd_build(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs build")
    result = _build(args, out, _project(args))
    out.result(
        f"built {len(result.files)} files for {', '.join(result.environments)} into {args.out}/",
        {
            "ok": True,
            "out": str(args.out),
            "environments": list(result.environments),
            "files": sorted(result.files),
            "counts": dict(result.counts),
            "timings": dict(result.timings),
        },
    )
    return EXIT_OK


def _environments_to_check(args: argparse.Namespace, out: Output) -> tuple[Path, tuple[str, ...]]:
    """With --platform, build what is asked and check that; otherwise check what --out holds,
    never building over it from another platform."""
    out_dir = Path(args.out)
    if args.platform:
        result = _build(args, out, _project(args))
        return out_dir, result.environments
    manifest = read_manifest(out_dir) if out_dir.is_dir() else None
    if manifest is None:
        raise OutputError(f"nothing built in {out_dir}/ ({MANIFEST} missing): run `obs build` first, or pass --platform to build and check")
    built = sorted({p.split("/", 1)[0] for p in manifest["files"] if "/" in p})
    for env in args.env or ():
        if env not in built:
            raise OutputError(f"{out_dir}/ holds no environment {env!r}: it holds {', '.join(built)}")
    return out_dir, tuple(args.env or built)


def _timed_out(record: dict[str, str]) -> bool:
    # How the promtool runner marks a timeout (imported here: it needs the build extra).
    from obs.checks.rules import TIMED_OUT

    return record["status"] == "failed" and record["detail"].startswith(TIMED_OUT)


def _tally(records: list[dict[str, str]]) -> str:
    counts = _counts(records)
    text = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["timed_out"]:
        text += f", {counts['timed_out']} timed out"
    return text + (f", {counts['skipped']} skipped" if counts["skipped"] else "")


def _run_outcomes(args: argparse.Namespace, out: Output, kind: str) -> tuple[list[dict[str, str]], bool, dict[str, float]]:
    """Every check (or test) of every environment and group asked for: the records, whether
    any failed, and the seconds each group took. On a terminal, one status line per environment
    and group counts them as they come; what fails is written in full."""
    started = time.perf_counter()
    out_dir, environments = _environments_to_check(args, out)
    timings: dict[str, float] = {"build": time.perf_counter() - started} if args.platform else {}
    records: list[dict[str, str]] = []
    failed = False
    for env in environments:
        env_dir = out_dir / env
        for group in select_groups(args.only or None):
            runner = group.check if kind == "check" else group.test
            if runner is None:
                continue
            started = time.perf_counter()
            head = f"  {env:<8} {group.name:<15}"
            mine: list[dict[str, str]] = []
            out.live(f"{head} ...", force=True)
            outcomes: Iterable[Outcome] = runner(env_dir)
            for outcome in outcomes:
                record = {"environment": env, "group": group.name, "name": outcome.name, "status": outcome.status, "detail": outcome.detail}
                mine.append(record)
                if outcome.status == "failed" or (outcome.status == "skipped" and args.strict):
                    failed = True
                if outcome.status != "passed":
                    mark = "TIME" if _timed_out(record) else {"failed": "FAIL", "skipped": "skip"}[outcome.status]
                    line = f"  {mark} {env:<8} {group.name:<15} {outcome.name}"
                    if outcome.detail:
                        line += "\n" + "\n".join(f"         {d}" for d in outcome.detail.splitlines()[:40])
                    out.progress(line)
                out.live(f"{head} {len(mine)} done: {_tally(mine)}")
            seconds = time.perf_counter() - started
            timings[group.name] = timings.get(group.name, 0.0) + seconds
            if mine:
                out.progress(f"{head} {len(mine):>4} {kind}{'s' if len(mine) != 1 else ''}: {_tally(mine)} ({seconds:.1f}s)")
            else:
                out.live("")
            # Stable order whatever order the runner finished them in.
            records += sorted(mine, key=lambda r: r["name"])
    out.timings(timings)
    return records, failed, timings


def _counts(records: list[dict[str, str]]) -> dict[str, int]:
    counts = {s: sum(r["status"] == s for r in records) for s in ("passed", "failed", "skipped")}
    counts["timed_out"] = sum(_timed_out(r) for r in records)
    counts["failed"] -= counts["timed_out"]
    return counts


def _not_passed(records: list[dict[str, str]]) -> list[str]:
    """One line per outcome that did not pass, naming it: what --quiet still prints."""
    return [
        f"  {'timed out' if _timed_out(r) else r['status']}: {r['environment']} {r['group']} {r['name']}"
        for r in records
        if r["status"] != "passed"
    ]


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs check")
    records, failed, timings = _run_outcomes(args, out, "check")
    counts = _counts(records)
    text = f"checks: {_tally(records)}"
    skipped = sorted({f"{r['name']}: {r['detail'].splitlines()[0] if r['detail'] else ''}" for r in records if r["status"] == "skipped"})
    problems = [line for line in _not_passed(records) if not line.startswith("  skipped")]
    if problems:
        text += "\n" + "\n".join(problems)
    if skipped:
        text += "\nskipped:\n" + "\n".join(f"  {s}" for s in skipped)
    out.result(text, {"ok": not failed, "outcomes": records, "timings": timings, **counts})
    return EXIT_FAILED if failed else EXIT_OK


def cmd_test(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs test")
    records, failed, timings = _run_outcomes(args, out, "test")
    if args.junit:
        write_junit(Path(args.junit), records, Path(args.out))
    if not records:
        return out.error("no artifact group in this build has tests", EXIT_FAILED)
    skipped_tools = [r for r in records if r["status"] == "skipped"]
    if skipped_tools and all(r["status"] == "skipped" for r in records):
        return out.error(skipped_tools[0]["detail"], 4)
    counts = _counts(records)
    text = f"tests: {_tally(records)}"
    not_passed = _not_passed(records)
    if not_passed:
        text += "\n" + "\n".join(not_passed)
    out.result(text, {"ok": not failed, "outcomes": records, "timings": timings, **counts})
    return EXIT_FAILED if failed else EXIT_OK


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs list")
    project = _project(args)
    result = render(project.platform, args.env or None, args.only or None, root=project.root, allow_code=project.allow_code)
    lines = [f"platform {project.platform.name!r}: {len(result.files)} files"]
    lines.extend(f"  {path}" for path in sorted(result.files))
    groups = [{"name": g.name, "description": g.description} for g in select_groups(args.only or None)]
    out.result("\n".join(lines), {"platform": project.platform.name, "files": sorted(result.files), "groups": groups})
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: Output) -> int:
    if args.alerts:
        from obs.alert_files import alert_file_schema

        schema: dict[str, Any] = alert_file_schema()
    else:
        schema = platform_json_schema()
    print(json.dumps(schema, indent=2, sort_keys=True), flush=True)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs preview")
    from obs.content import load_content
    from obs.preview import preview

    project = _project(args)
    platform = project.platform
    env = platform.environment(args.env[0] if args.env else None)
    content = load_content(platform, env, project.root, project.allow_code)
    html, png = preview(platform, args.dashboard, args.prometheus, Path(args.out), env=env.name, content=content)
    out.result(
        f"preview: {html}" + (f"\n         {png}" if png else "\n         (no PNG: chromium not found)"),
        {"ok": True, "html": str(html), "png": str(png) if png else None},
    )
    return EXIT_OK


__all__ = ["cmd_build", "cmd_check", "cmd_list", "cmd_preview", "cmd_schema", "cmd_test"]
