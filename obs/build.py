"""Render, check and write a platform's whole stack.

``render`` is pure: model in, file contents out, every PromQL expression checked against the
contract and the recording rules of the same build. ``build`` adds the atomic write.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obs import contract
from obs.artifacts import GROUPS, Artifact, ArtifactGroup, RenderContext
from obs.errors import ObsError, PromQLError, RenderError
from obs.model import Environment, Platform
from obs.promql import check_queries
from obs.writer import manifest, serialize, write_tree

Progress = Callable[[str, str, int], None]


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: relative path → bytes, and how many files each group wrote."""

    files: Mapping[str, bytes]
    counts: Mapping[str, int] = field(default_factory=dict)
    environments: tuple[str, ...] = ()


def select_groups(names: Iterable[str] | None = None) -> tuple[ArtifactGroup, ...]:
    if not names:
        return GROUPS
    wanted = list(names)
    known = {g.name for g in GROUPS}
    for name in wanted:
        if name not in known:
            raise RenderError(f"unknown artifact group {name!r}: use one of {', '.join(sorted(known))}")
    return tuple(g for g in GROUPS if g.name in wanted)


def render_environment(
    platform: Platform, env: Environment, groups: Iterable[ArtifactGroup], progress: Progress | None = None
) -> dict[str, list[Artifact]]:
    """Render every group for one environment; raises RenderError naming the group that failed."""
    ctx = RenderContext(platform, env)
    rendered: dict[str, list[Artifact]] = {}
    for group in groups:
        try:
            artifacts = group.render(ctx)
        except ObsError:
            raise
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            raise RenderError(f"{env.name}/{group.name}: renderer failed: {detail}") from exc
        rendered[group.name] = artifacts
        if progress:
            progress(env.name, group.name, len(artifacts))
    return rendered


def check_promql(rendered: Mapping[str, list[Artifact]]) -> None:
    """Every expression parses and selects only known metrics; raises the first error, listing all."""
    records = {r for artifacts in rendered.values() for a in artifacts for r in a.records}
    known = contract.known_series_names() | frozenset(records)
    pairs = [(a.path, q) for artifacts in rendered.values() for a in artifacts for q in a.queries]
    errors = check_queries(pairs, known)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        first = errors[0]
        rest = "\n".join(f"  - {e}" for e in errors[1:])
        raise PromQLError(first.artifact, first.expr, f"{first.problem}\n{len(errors) - 1} more:\n{rest}")


def render(
    platform: Platform,
    environments: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Render (in memory) and check the stack for the given environments (default: all)."""
    envs = [platform.environment(name) for name in environments] if environments else list(platform.environments)
    selected = select_groups(groups)
    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    source = f"platform {platform.name!r}"
    for env in envs:
        rendered = render_environment(platform, env, selected, progress)
        check_promql(rendered)
        for group_name, artifacts in rendered.items():
            counts[group_name] = counts.get(group_name, 0) + len(artifacts)
            for artifact in artifacts:
                rel = f"{env.name}/{artifact.path}"
                if rel in files:
                    raise RenderError(f"{group_name}: two artifacts want the path {rel}")
                files[rel] = serialize(artifact.path, artifact.content, f"{source}, environment {env.name!r}")
    files["manifest.json"] = manifest(files)
    return BuildResult(files=files, counts=counts, environments=tuple(e.name for e in envs))


def build(
    platform: Platform,
    out: Path,
    environments: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Render, check and atomically write into ``out``; on any error ``out`` is left untouched."""
    result = render(platform, environments, groups, progress)
    untouched = [e.name for e in platform.environments if e.name not in result.environments]
    write_tree(out, result.files, keep=untouched)
    return result


__all__ = ["BuildResult", "build", "check_promql", "render", "render_environment", "select_groups"]
