"""What a renderer returns, and the registry of artifact groups the build runs.

The build has two phases. In phase one every group renders from the model alone: a pure function
from a :class:`RenderContext` to :class:`Artifact` values holding plain data (dicts, lists,
strings), with no subprocess, no file system and no other group's internals. In phase two the
composite groups (``compose``, ``kubernetes``) get the finished artifacts of phase one and package
them for where the environment runs. Nothing is written by a renderer: :mod:`obs.writer`
serializes every artifact in one place.

Validators live apart, in :mod:`obs.checks` (one module per group, see there): in-process
``verify`` at build time, ``check`` and ``test`` over written files with the real tools.

Adding an artifact kind is one renderer module, optionally one checks module, and one entry in
:data:`GROUPS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar

from obs.content import EMPTY_CONTENT, Content
from obs.model import Environment, Platform
from obs.promql import Query

T = TypeVar("T")


@dataclass(frozen=True)
class RenderContext:
    """What a renderer reads: the platform, the environment, and the platform's own content
    (alerts, dashboards, tests, runbooks) already loaded by :mod:`obs.content`.

    :meth:`derived` computes model-derived data once per environment (the alerts of the build are
    read by the rules, Alertmanager and runbook groups alike), so no group renders another.
    """

    platform: Platform
    env: Environment
    content: Content = EMPTY_CONTENT
    _derived: dict[Callable[..., Any], Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, compute: Callable[[RenderContext], T]) -> T:
        """``compute(self)``, computed on first use and shared by every group of this environment."""
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        value: T = self._derived[compute]
        return value


@dataclass(frozen=True, slots=True)
class Artifact:
    """One output file, as data.

    ``content`` is a dict or list (serialized as YAML or JSON by the suffix of ``path``, or as
    newline-delimited JSON for ``.ndjson``) or a string written as is. ``queries`` are the PromQL
    expressions the file contains, checked against the contract; ``records`` are the series names
    it records (recording rules), which other queries may then select.
    """

    path: str
    content: Any
    queries: tuple[Query, ...] = ()
    records: tuple[str, ...] = ()
    #: Where the content came from when it is the platform's own (a file), for messages.
    source: str = ""


#: Phase one's result for one environment, handed to phase two: group name → its artifacts.
Rendered = Mapping[str, Sequence[Artifact]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one validator or test run over written output."""

    name: str
    status: Literal["passed", "failed", "skipped"]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ArtifactGroup:
    """One family of artifacts (``prometheus``, ``grafana``, ...): the module that renders it, the
    module that checks it, and its phase.

    A phase-one module defines ``render(ctx) -> Iterable[Artifact]``; a phase-two module defines
    ``render(ctx, rendered) -> Iterable[Artifact]`` and names the phase-one groups it packages in
    ``needs``.
    """

    name: str
    description: str
    module: str
    checks: str = ""
    phase: Literal[1, 2] = 1
    needs: tuple[str, ...] = ()
    _loaded: dict[str, ModuleType] = field(default_factory=dict, compare=False, repr=False)

    def _module(self, name: str) -> ModuleType:
        if name not in self._loaded:
            self._loaded[name] = importlib.import_module(name)
        return self._loaded[name]

    def render(self, ctx: RenderContext, rendered: Rendered | None = None) -> list[Artifact]:
        module = self._module(self.module)
        if self.phase == 2:
            return list(module.render(ctx, rendered or {}))
        return list(module.render(ctx))

    def _check_fn(self, name: str) -> Callable[..., Any] | None:
        if not self.checks:
            return None
        fn = getattr(self._module(self.checks), name, None)
        return fn if callable(fn) else None

    @property
    def verify(self) -> Callable[[Sequence[Artifact]], list[str]] | None:
        return self._check_fn("verify")

    @property
    def check(self) -> Callable[[Path], Iterable[Outcome]] | None:
        return self._check_fn("check")

    @property
    def test(self) -> Callable[[Path], Iterable[Outcome]] | None:
        return self._check_fn("test")


def _group(name: str, description: str, phase: Literal[1, 2] = 1, needs: tuple[str, ...] = ()) -> ArtifactGroup:
    module = name.replace("-", "_")
    return ArtifactGroup(name, description, f"obs.renderers.{module}", f"obs.checks.{module}", phase, needs)


#: Every artifact group, in build order. Output lands in ``<out>/<environment>/<paths>``.
GROUPS: tuple[ArtifactGroup, ...] = (
    _group("prometheus", "Prometheus scrape configuration per environment"),
    _group("rules", "Recording and alerting rules, with their promtool unit tests"),
    _group("ruler", "Which rules run where; the metrics store's ruler files (vmalert, Thanos Ruler, Mimir)"),
    _group("alertmanager", "Alertmanager routing, inhibition and receivers"),
    _group("runbooks", "Runbook pages for every alert, Markdown and static HTML"),
    _group("grafana", "Grafana dashboards and provisioning"),
    _group("fluentd", "Fluentd log pipeline"),
    _group("logstash", "Logstash log pipeline"),
    _group("elasticsearch", "Elasticsearch index templates and lifecycle policies"),
    _group("kibana", "Kibana data views and saved searches"),
    _group("jaeger", "Jaeger v2 configuration and sampling strategies"),
    _group("otel-collector", "OpenTelemetry Collector between services and Jaeger"),
    _group("exporters", "Configuration of the third-party exporters the stack scrapes"),
    _group(
        "compose",
        "Docker Compose file that runs the whole generated stack",
        phase=2,
        needs=(
            "prometheus",
            "alertmanager",
            "fluentd",
            "logstash",
            "elasticsearch",
            "kibana",
            "jaeger",
            "otel-collector",
            "exporters",
        ),
    ),
    _group("kubernetes", "Kubernetes objects for kube-prometheus-stack or plain Prometheus, and the charts' values", phase=2, needs=("prometheus", "rules", "alertmanager", "grafana", "exporters")),
)


def group(name: str) -> ArtifactGroup:
    for g in GROUPS:
        if g.name == name:
            return g
    raise KeyError(name)


__all__ = ["GROUPS", "Artifact", "ArtifactGroup", "Outcome", "RenderContext", "Rendered", "group"]
