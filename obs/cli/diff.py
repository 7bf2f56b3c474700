"""``obs diff``: how a fresh render differs from what --out holds, or, with ``--base``, what a change
does to the stack compared with a built folder or with the platform at a git ref.

Without ``--base``: a unified diff of every file that would change in --out (exit 1 if any).
With ``--base DIR``: DIR is a build folder (``obs build --out DIR``), compared by meaning
(:mod:`obs.review`). With ``--base REF``: the repository at REF is exported (``git archive``) into
a temporary folder and its platform built there, with that revision's own obs when it has one (a
checkout of obs itself) and the installed obs otherwise; the user's build folder is not touched.
``--format markdown`` writes the summary as a pull-request comment.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from obs.builder import BuildResult, render
from obs.cli._output import Output
from obs.errors import ObsError
from obs.extras import BUILD, require
from obs.loader import PLATFORM_ENV, load_project
from obs.review import as_markdown, as_text, review
from obs.writer import read_manifest

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "markdown")
#: How long building the base revision may take.
BASE_BUILD_TIMEOUT_S = 600


class BaseError(ObsError):
    """The --base folder or revision cannot be read or built."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base`` on the ``diff`` subcommand's parser (its ``--format`` takes ``markdown`` too)."""
    parser.add_argument(
        "--base",
        metavar="DIR_OR_GIT_REF",
        help="summarise what changed against a build folder or the platform at a git ref (alerts, rules, dashboards, routes, ...)",
    )


def cmd_diff(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs diff")
    base = getattr(args, "base", None)
    if args.format == "markdown" and not base:
        return out.error("--format markdown summarises a change: give --base DIR_OR_GIT_REF", EXIT_USAGE)
    project = load_project(args.platform)
    result = render(project.platform, args.env or None, args.only or None, root=project.root, allow_code=project.allow_code)
    if base:
        return _review(args, out, project.root, result, base)
    return _file_diff(args, out, result)


# --- review against a base ----------------------------------------------------------------------------


def _review(args: argparse.Namespace, out: Output, root: Path, result: BuildResult, base: str) -> int:
    with tempfile.TemporaryDirectory(prefix="obs-diff-base-") as scratch:
        if Path(base).is_dir():
            files = built_files(Path(base), result)
        else:
            out.progress(f"obs diff: building the platform at {base} (git archive) in a temporary folder")
            files = built_files(build_revision(base, args, root, Path(scratch)), result)
    summary = review(files, result.files, result.environments)
    if args.format == "json":
        out.result("", {"ok": not summary.changed, "base": base, **summary.as_data()})
    elif args.format == "markdown":
        out.result(as_markdown(summary, base), {})
    else:
        out.result(as_text(summary, base), {})
    return EXIT_FAILED if summary.changed else EXIT_OK


def built_files(folder: Path, result: BuildResult) -> dict[str, bytes]:
    """The files of a build folder that belong to the environments and groups of ``result``."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise BaseError(f"--base {folder}: not an obs build folder (no manifest.json): build it with `obs build --out {folder}`")
    owners: Mapping[str, str] = manifest.get("groups") or {}
    files: dict[str, bytes] = {}
    for rel in manifest.get("files", {}):
        env = rel.split("/", 1)[0]
        if env in result.environments and owners.get(rel, "") in (*result.groups, ""):
            files[rel] = (folder / rel).read_bytes()
    return files


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise BaseError("--base names a git ref, but git is not installed") from None


def build_revision(ref: str, args: argparse.Namespace, root: Path, scratch: Path) -> Path:
    """Export the repository at ``ref`` into ``scratch`` and build its platform there; the folder built."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BaseError(f"--base {ref}: no such folder, and {root} is not in a git repository")
    repo = Path(top.stdout.strip())
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        raise BaseError(f"--base {ref}: neither a folder nor a commit of {repo} (try a branch, a tag, or origin/main after git fetch)")
    checkout = scratch / "checkout"
    checkout.mkdir()
    archive = scratch / "base.tar"
    with archive.open("wb") as tar_out:
        done = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit.stdout.strip()], stdout=tar_out, stderr=subprocess.PIPE, timeout=300)
    if done.returncode != 0:
        raise BaseError(f"--base {ref}: git archive failed: {done.stderr.decode(errors='replace').strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(checkout, filter="data")
    out_dir = scratch / "build"
    command = [sys.executable, "-m", "obs", "build", "--out", str(out_dir), "--quiet"]
    command += _platform_args(args.platform, repo, checkout)
    command += [a for env in args.env or () for a in ("--env", env)]
    command += [a for group in args.only or () for a in ("--only", group)]
    environment = dict(os.environ)
    if not args.platform and environment.get(PLATFORM_ENV):
        environment[PLATFORM_ENV] = _inside(environment[PLATFORM_ENV], repo, checkout)
    # Run from the checkout: `python -m obs` then imports that revision's obs when it has one.
    cwd = checkout / Path.cwd().resolve().relative_to(repo) if Path.cwd().resolve().is_relative_to(repo) else checkout
    try:
        built = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=BASE_BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BaseError(f"--base {ref}: building it took longer than {BASE_BUILD_TIMEOUT_S} s") from None
    if built.returncode != 0:
        tail = "\n".join((built.stderr or built.stdout).strip().splitlines()[-10:])
        raise BaseError(f"--base {ref}: its platform does not build:\n{tail}")
    return out_dir


def _inside(path: str, repo: Path, checkout: Path) -> str:
    """``path`` (a platform file or a module name) as it is found in the exported revision."""
    candidate = Path(path)
    absolute = candidate if candidate.is_absolute() else Path.cwd() / candidate
    if absolute.exists() and absolute.resolve().is_relative_to(repo):
        return str(checkout / absolute.resolve().relative_to(repo))
    return path


def _platform_args(platform: str | None, repo: Path, checkout: Path) -> Sequence[str]:
    return ["--platform", _inside(platform, repo, checkout)] if platform else []


# --- plain diff against --out ----------------------------------------------------------------------------


def _file_diff(args: argparse.Namespace, out: Output, result: BuildResult) -> int:
    base = Path(args.out)
    manifest = read_manifest(base) if base.is_dir() else None
    owners: dict[str, str] = (manifest or {}).get("groups") or {}
    existing: dict[str, bytes] = {}
    for rel in (manifest or {}).get("files", {}):
        env = rel.split("/", 1)[0]
        if env in result.environments and owners.get(rel, "") in (*result.groups, ""):
            existing[rel] = (base / rel).read_bytes()
    if owners:
        existing = {k: v for k, v in existing.items() if owners.get(k) in result.groups}
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


__all__ = ["BaseError", "add_arguments", "build_revision", "built_files", "cmd_diff"]
