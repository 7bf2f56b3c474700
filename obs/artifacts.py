"""What a renderer returns, and the registry of artifact groups the build runs.

A renderer is a pure function from a :class:`RenderContext` to :class:`Artifact` values holding
plain data (dicts, lists, strings). It never writes files: :mod:`obs.writer` serializes every
artifact in one place. Adding an artifact kind is one renderer module plus one entry in
:data:`GROUPS`.

A renderer module defines ``render(ctx) -> Iterable[Artifact]`` and may define
``check(env_dir: Path) -> Iterable[Outcome]`` (validators over the written files, used by
``obs check``) and ``test(env_dir: Path) -> Iterable[Outcome]`` (used by ``obs test``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from obs.model import Environment, Platform
from obs.promql import Query


@dataclass(frozen=True, slots=True)
class RenderContext:
    platform: Platform
    env: Environment


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one validator or test run over written output."""

    name: str
    status: Literal["passed", "failed", "skipped"]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ArtifactGroup:
    """One family of artifacts (``prometheus``, ``grafana``, ...) and the module that renders it."""

    name: str
    description: str
    module: str
    _loaded: list[ModuleType] = field(default_factory=list, compare=False, repr=False)

    def load(self) -> ModuleType:
        if not self._loaded:
            self._loaded.append(importlib.import_module(self.module))
        return self._loaded[0]

    def render(self, ctx: RenderContext) -> list[Artifact]:
        return list(self.load().render(ctx))

    def _optional(self, name: str) -> Callable[[Path], Iterable[Outcome]] | None:
        fn = getattr(self.load(), name, None)
        return fn if callable(fn) else None

    @property
    def check(self) -> Callable[[Path], Iterable[Outcome]] | None:
        return self._optional("check")

    @property
    def test(self) -> Callable[[Path], Iterable[Outcome]] | None:
        return self._optional("test")


#: Every artifact group, in build order. Output lands in ``<out>/<environment>/<paths>``.
GROUPS: tuple[ArtifactGroup, ...] = (
    ArtifactGroup("prometheus", "Prometheus scrape configuration per environment", "obs.render.prometheus"),
    ArtifactGroup("rules", "Recording and alerting rules, with their promtool unit tests", "obs.render.rules"),
    ArtifactGroup("alertmanager", "Alertmanager routing, inhibition and receivers", "obs.render.alertmanager"),
    ArtifactGroup("grafana", "Grafana dashboards and provisioning", "obs.render.grafana"),
    ArtifactGroup("fluentd", "Fluentd log pipeline", "obs.render.fluentd"),
    ArtifactGroup("logstash", "Logstash log pipeline", "obs.render.logstash"),
    ArtifactGroup("elasticsearch", "Elasticsearch index templates and lifecycle policies", "obs.render.elasticsearch"),
    ArtifactGroup("kibana", "Kibana data views and saved searches", "obs.render.kibana"),
    ArtifactGroup("jaeger", "Jaeger v2 configuration and sampling strategies", "obs.render.jaeger"),
    ArtifactGroup("otel-collector", "OpenTelemetry Collector between services and Jaeger", "obs.render.otel_collector"),
    ArtifactGroup("exporters", "Configuration of the third-party exporters the stack scrapes", "obs.render.exporters"),
    ArtifactGroup("compose", "Docker Compose file that runs the whole generated stack", "obs.render.compose"),
)


def group(name: str) -> ArtifactGroup:
    for g in GROUPS:
        if g.name == name:
            return g
    raise KeyError(name)


__all__ = ["GROUPS", "Artifact", "ArtifactGroup", "Outcome", "RenderContext", "group"]
