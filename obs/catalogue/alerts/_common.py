"""Names every catalogue table reads (the contract's metric and labels), the builders of alerts
about a dependency or any component, and how the model's tuning reaches an alert
(:func:`tuning_for`, :func:`tuned`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from obs import contract
from obs.alerting import Alert, Fires, Severity, component_alert, component_runbook_base
from obs.model import NO_TUNING, AlertTuning, Dependency, Environment, Platform, Service
from obs.rules.testgen import Signal, threshold_cases

#: The duration histogram (by method and route, every status): latency SLIs and quantiles.
DURATION = contract.HTTP_SERVER_DURATION.name
COUNT = f"{DURATION}_count"
BUCKET = f"{DURATION}_bucket"
#: The request counter (by method, route and status): request rates, errors, availability SLIs.
REQUESTS = contract.HTTP_SERVER_REQUESTS.name
SVC = contract.SERVICE_LABEL
TEAM = contract.TEAM_LABEL
STATUS = contract.STATUS_LABEL
ROUTE = contract.ROUTE_LABEL


@dataclass(frozen=True, slots=True)
class Threshold:
    """The tunable threshold of a catalogue alert: its default, its unit (as the docs and the
    errors state it) and the values that make sense (``low`` < threshold < ``high``)."""

    default: float
    unit: str
    low: float = 0.0
    high: float = math.inf
    #: Whether ``low`` itself is allowed (a count "more than 0" is).
    low_inclusive: bool = False

    def problem(self, value: float) -> str:
        """Why ``value`` cannot be this threshold, or ""."""
        above_low = value >= self.low if self.low_inclusive else value > self.low
        if above_low and value < self.high:
            return ""
        low = f"{'from' if self.low_inclusive else 'above'} {self.low:g}"
        return f"{value:g} is not a threshold in {self.unit} ({low}{f' and below {self.high:g}' if math.isfinite(self.high) else ''})"


@dataclass(frozen=True, slots=True)
class Tuned:
    """A catalogue alert's settings once the model's tuning is applied."""

    severity: Severity
    for_: str
    threshold: float


def tuned(
    platform: Platform, env: Environment, component: str, name: str, severity: Severity, for_: str, threshold: Threshold | None = None
) -> Tuned | None:
    """The alert ``name`` of ``component`` as the model tunes it in ``env``; None when it is
    switched off. The tuning was checked against the catalogue before (:func:`obs.catalogue.alerts.check_tunings`)."""
    tuning = tuning_for(platform, env, component, name)
    if tuning.enabled is False:
        return None
    value = threshold.default if threshold is not None else math.nan
    if threshold is not None and tuning.threshold is not None:
        value = float(tuning.threshold)
    return Tuned(Severity(tuning.severity) if tuning.severity else severity, tuning.for_ or for_, value)


def percent(ratio: float) -> str:
    """A ratio as the descriptions show it: 0.8 → 80%, 0.855 → 85.5%."""
    return f"{ratio * 100:.6g}%"


def dependency_alert(platform: Platform, dep: Dependency, name: str, **kwargs: Any) -> Alert:
    # The PostgreSQL and Redis dashboards select the database by its `service` variable.
    return component_alert(
        platform,
        name=name,
        service=dep.name,
        team=dep.team,
        runbook_base=component_runbook_base(platform, dep),
        variables={SVC: dep.name},
        **kwargs,
    )


def exporter_down_alert(platform: Platform, dep: Dependency, name: str, up_metric: str, **kwargs: Any) -> Alert:
    """The page when a dependency's exporter reports it unreachable (``<x>_up == 0`` for 2m), with its tests."""
    job = f'job="{dep.name}"'
    inst = dep.exporter_address
    lab = f'{job}, instance="{inst}", {SVC}="{dep.name}", {TEAM}="{dep.team}"'
    down = dependency_alert(platform, dep, name, expr=f"{up_metric}{{{job}}} == 0", **{"severity": Severity.PAGE, "for_": "2m", **kwargs})
    return down.with_tests(
        *threshold_cases(
            [Signal(f"{up_metric}{{{lab}}}", 1, 0)],
            down.for_,
            Fires(value=0, labels={"job": dep.name, "instance": inst}),
        )
    )


def component_alert_of(platform: Platform, comp: Service | Dependency, name: str, **kwargs: Any) -> Alert:
    return component_alert(
        platform,
        name=name,
        service=comp.name,
        team=comp.team,
        runbook_base=component_runbook_base(platform, comp),
        **kwargs,
    )


_index: list[tuple[Platform, dict[str, Service | Dependency]]] = []


def _components(platform: Platform) -> dict[str, Service | Dependency]:
    """The platform's components by name, kept for the platform last asked about: every alert of
    every component looks its tuning up, and a fresh dict each time would cost the square."""
    if not _index or _index[0][0] is not platform:
        _index[:] = [(platform, {c.name: c for c in platform.components()})]
    return _index[0][1]


def tuning_for(platform: Platform, env: Environment, component: str, alert: str) -> AlertTuning:
    """How the model retunes catalogue alert ``alert`` of ``component`` in ``env`` (see
    :mod:`obs.model.tuning` for the precedence); :data:`NO_TUNING` when it does not."""
    found = NO_TUNING
    own = _components(platform).get(component)
    for tuning in (
        env.alerts.get(f"{component}/{alert}"),
        env.alerts.get(alert),
        own.alerts.get(alert) if own is not None else None,
    ):
        if tuning is not None:
            found = found.merged(tuning)
    return found


__all__ = [
    "BUCKET",
    "COUNT",
    "DURATION",
    "REQUESTS",
    "ROUTE",
    "STATUS",
    "SVC",
    "TEAM",
    "Threshold",
    "Tuned",
    "component_alert_of",
    "dependency_alert",
    "exporter_down_alert",
    "percent",
    "tuned",
    "tuning_for",
]
