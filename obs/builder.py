"""Render, verify and write a platform's whole stack (the public ``obs.build`` and ``obs.renderers``).

For each environment: the platform's own content is loaded (:mod:`obs.content`), phase one renders
every group from the model and that content, phase two hands the finished artifacts to the
composite groups, and the build's verification runs in process (every PromQL expression against
the metrics contract and the recordings of the same build, then each group's ``verify``). Only then
does :mod:`obs.writer` put anything on disk: a failure leaves the output as it was.

``render`` is the pure part (model in, bytes out); ``build`` adds the write.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from obs import contract
from obs.artifacts import GROUPS, Artifact, ArtifactGroup, RenderContext
from obs.content import Content, Modules, load_content
from obs.errors import ObsError, PromQLError, RenderError
from obs.model import Environment, Platform
from obs.promql import Query, check_queries
from obs.writer import check_out, serialize, write_tree

#: Called after each group of each environment: (environment, group, number of files).
Progress = Callable[[str, str, int], None]


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: relative path → bytes, the group of each file, the files per group,
    and how long each phase took (seconds)."""

    files: Mapping[str, bytes]
    counts: Mapping[str, int] = field(default_factory=dict)
    environments: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    owners: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)


def select_groups(names: Iterable[str] | None = None) -> tuple[ArtifactGroup, ...]:
    if not names:
        return GROUPS
    wanted = list(names)
    known = {g.name for g in GROUPS}
    for name in wanted:
        if name not in known:
            raise RenderError(f"unknown artifact group {name!r}: use one of {', '.join(sorted(known))}")
    return tuple(g for g in GROUPS if g.name in wanted)


def _render_group(group: ArtifactGroup, ctx: RenderContext, rendered: Mapping[str, Sequence[Artifact]] | None = None) -> list[Artifact]:
    try:
        return group.render(ctx, rendered)
    except ObsError:
        raise
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()
        raise RenderError(f"{ctx.env.name}/{group.name}: renderer failed: {detail}") from exc


def render_environment(
    platform: Platform,
    env: Environment,
    groups: Iterable[ArtifactGroup],
    progress: Progress | None = None,
    content: Content | None = None,
) -> dict[str, list[Artifact]]:
    """Both phases for one environment: group name → artifacts, for the groups asked for.

    A phase-two group asked for alone still gets the phase-one groups it packages, rendered in
    memory and not returned."""
    # Renderers see the platform as the environment does: its addresses, not the platform defaults.
    here = platform.in_environment(env)
    ctx = RenderContext(here, env, content) if content is not None else RenderContext(here, env)
    selected = list(groups)
    wanted = {g.name for g in selected}
    needed = wanted | {n for g in selected if g.phase == 2 for n in g.needs}
    phase_one: dict[str, list[Artifact]] = {}
    for group in GROUPS:
        if group.phase == 1 and group.name in needed:
            phase_one[group.name] = _render_group(group, ctx)
            if progress and group.name in wanted:
                progress(env.name, group.name, len(phase_one[group.name]))
    rendered = {name: artifacts for name, artifacts in phase_one.items() if name in wanted}
    for group in selected:
        if group.phase == 2:
            inputs = {name: phase_one[name] for name in group.needs}
            rendered[group.name] = _render_group(group, ctx, inputs)
            if progress:
                progress(env.name, group.name, len(rendered[group.name]))
    return {g.name: rendered[g.name] for g in selected}


#: Expressions that passed, by the set of names they were checked against: the environments of
#: one build repeat most of them, and one check per expression and set is enough.
Checked = dict[frozenset[str], set[tuple[str, frozenset[str]]]]


def check_promql(rendered: Mapping[str, Sequence[Artifact]], checked: Checked | None = None) -> None:
    """Every expression parses and selects only known metrics; raises the first error, listing all.

    ``checked`` remembers what passed across calls (the environments of one build)."""
    records = {r for artifacts in rendered.values() for a in artifacts for r in a.records}
    known = contract.known_series_names() | frozenset(records)
    passed = (checked if checked is not None else {}).setdefault(known, set())
    first: dict[tuple[str, frozenset[str]], list[tuple[str, Query]]] = {}
    for artifacts in rendered.values():
        for a in artifacts:
            for q in a.queries:
                key = (q.expr, q.declared)
                if key not in passed:
                    first.setdefault(key, []).append((a.path, q))
    errors: list[PromQLError] = []
    for key, pairs in first.items():
        # Each expression checked once; where it fails, every place it sits is reported.
        found = check_queries(pairs[:1], known)
        if found:
            errors += found + check_queries(pairs[1:], known)
        else:
            passed.add(key)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        head = errors[0]
        rest = "\n".join(f"  - {e}" for e in errors[1:])
        raise PromQLError(head.artifact, head.expr, f"{head.problem}\n{len(errors) - 1} more:\n{rest}")


def verify(env: Environment, rendered: Mapping[str, Sequence[Artifact]], checked: Checked | None = None) -> None:
    """The build's in-process checks: PromQL against the contract, then each group's ``verify``."""
    check_promql(rendered, checked)
    problems: list[str] = []
    for name, artifacts in rendered.items():
        group = next(g for g in GROUPS if g.name == name)
        if group.verify is not None:
            problems += [f"{env.name}/{name}: {p}" for p in group.verify(artifacts)]
    if problems:
        raise RenderError("the rendered stack fails its checks:\n  " + "\n  ".join(problems))


def render(
    platform: Platform,
    environments: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
    progress: Progress | None = None,
    root: Path | None = None,
    allow_code: bool = True,
) -> BuildResult:
    """Load content, render and verify the stack for the given environments (default: all), in memory.

    ``root`` is the folder the platform's content references are relative to (default: the
    current folder); ``allow_code=False`` refuses Python content (YAML platforms)."""
    envs = [platform.environment(name) for name in environments] if environments else list(platform.environments)
    selected = select_groups(groups)
    files: dict[str, bytes] = {}
    owners: dict[str, str] = {}
    counts: dict[str, int] = {}
    timings = {"content": 0.0, "render": 0.0, "verify": 0.0, "serialize": 0.0}
    source = f"platform {platform.name!r}"
    modules: Modules = {}
    checked: Checked = {}
    for env in envs:
        started = time.perf_counter()
        # The platform's own content sees the environment's addresses too (its alerts link Grafana).
        content = load_content(platform.in_environment(env), env, root, allow_code, modules)
        timings["content"] += time.perf_counter() - started
        started = time.perf_counter()
        rendered = render_environment(platform, env, selected, progress, content)
        timings["render"] += time.perf_counter() - started
        started = time.perf_counter()
        verify(env, rendered, checked)
        timings["verify"] += time.perf_counter() - started
        started = time.perf_counter()
        for group_name, artifacts in rendered.items():
            counts[group_name] = counts.get(group_name, 0) + len(artifacts)
            for artifact in artifacts:
                rel = f"{env.name}/{artifact.path}"
                if rel in files:
                    raise RenderError(f"{group_name}: two artifacts want the path {rel} ({owners[rel]} wrote it first)")
                files[rel] = serialize(artifact.path, artifact.content, f"{source}, environment {env.name!r}")
                owners[rel] = group_name
        timings["serialize"] += time.perf_counter() - started
    return BuildResult(
        files=files,
        counts=counts,
        environments=tuple(e.name for e in envs),
        groups=tuple(g.name for g in selected),
        owners=owners,
        timings=timings,
    )


def build(
    platform: Platform,
    out: Path,
    environments: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
    progress: Progress | None = None,
    root: Path | None = None,
    allow_code: bool = True,
    protect: Iterable[Path] = (),
) -> BuildResult:
    """Render, verify and write into ``out``. Only the environments and groups asked for are
    replaced; everything else in ``out`` stays byte-identical. On any error ``out`` is untouched.
    ``out`` may not hold any of ``protect`` (the platform file, the project)."""
    check_out(out, protect)
    result = render(platform, environments, groups, progress, root, allow_code)
    started = time.perf_counter()
    replace = [(e, g) for e in result.environments for g in result.groups]
    write_tree(out, result.files, result.owners, replace=replace, protect=protect)
    return BuildResult(**{**result.__dict__, "timings": {**result.timings, "write": time.perf_counter() - started}})


__all__ = ["BuildResult", "build", "check_promql", "render", "render_environment", "select_groups", "verify"]
