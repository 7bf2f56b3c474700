"""``obs diff``: how a fresh render differs from what --out holds."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from obs.builder import render
from obs.cli._output import Output
from obs.extras import BUILD, require
from obs.loader import load_project
from obs.writer import read_manifest

EXIT_OK, EXIT_FAILED = 0, 1


def cmd_diff(args: argparse.Namespace, out: Output) -> int:
    require(BUILD, "obs diff")
    project = load_project(args.platform)
    result = render(project.platform, args.env or None, args.only or None, root=project.root, allow_code=project.allow_code)
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


__all__ = ["cmd_diff"]
