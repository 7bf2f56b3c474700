"""The values :mod:`obs.runtime.api` returns: samples, series, exemplars, targets, rules and alerts,
as frozen dataclasses with the servers' field names turned into Python ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of an instant query."""

    labels: Labels
    timestamp: float
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: ``(timestamp, value)`` points in time order."""

    labels: Labels
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Exemplar:
    """An exemplar: its own labels (``trace_id``...), the observed value and when."""

    labels: Labels
    value: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class ExemplarSeries:
    series_labels: Labels
    exemplars: tuple[Exemplar, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One active scrape target."""

    job: str
    instance: str
    health: str
    scrape_url: str
    last_error: str
    labels: Labels
    scrape_pool: str

    @property
    def up(self) -> bool:
        return self.health == "up"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as the rule evaluator (Prometheus or vmalert) holds it: ``pending`` or ``firing``."""

    labels: Labels
    annotations: Labels
    state: str
    active_at: str
    value: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class Rule:
    """A recording or alerting rule with its evaluation health (``ok``, ``err``, ``unknown``)."""

    name: str
    kind: str
    query: str
    health: str
    last_error: str
    state: str
    for_seconds: float
    labels: Labels
    annotations: Labels
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    file: str
    interval: float
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AmAlert:
    """An alert as Alertmanager holds it: ``active``, ``suppressed`` (inhibited or silenced) or ``unprocessed``."""

    labels: Labels
    annotations: Labels
    state: str
    inhibited_by: tuple[str, ...]
    silenced_by: tuple[str, ...]
    receivers: tuple[str, ...]
    fingerprint: str
    starts_at: str
    ends_at: str
    generator_url: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def inhibited(self) -> bool:
        return bool(self.inhibited_by)

    @property
    def silenced(self) -> bool:
        return bool(self.silenced_by)


@dataclass(frozen=True, slots=True)
class AmStatus:
    version: str
    uptime: str
    cluster_status: str
    config_yaml: str


__all__ = ["Alert", "AmAlert", "AmStatus", "Exemplar", "ExemplarSeries", "Labels", "Rule", "RuleGroup", "Sample", "Series", "Target"]
