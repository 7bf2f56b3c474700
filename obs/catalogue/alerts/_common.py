"""Names every catalogue table reads (the contract's metric and labels), and the builders of
alerts about a dependency or any component."""

from __future__ import annotations

from typing import Any

from obs import contract
from obs.alerting import Alert, Fires, Severity, component_alert, component_runbook_base
from obs.model import NO_TUNING, AlertTuning, Dependency, Environment, Platform, Service
from obs.rules.testgen import Signal, threshold_cases

DURATION = contract.HTTP_SERVER_DURATION.name
COUNT = f"{DURATION}_count"
BUCKET = f"{DURATION}_bucket"
SVC = contract.SERVICE_LABEL
TEAM = contract.TEAM_LABEL
STATUS = contract.STATUS_LABEL
ROUTE = contract.ROUTE_LABEL


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
    down = dependency_alert(platform, dep, name, expr=f"{up_metric}{{{job}}} == 0", severity=Severity.PAGE, for_="2m", **kwargs)
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


def tuning_for(platform: Platform, env: Environment, component: str, alert: str) -> AlertTuning:
    """How the model retunes catalogue alert ``alert`` of ``component`` in ``env`` (see
    :mod:`obs.model.tuning` for the precedence); :data:`NO_TUNING` when it does not."""
    found = NO_TUNING
    components = {c.name: c for c in platform.components()}
    own = components.get(component)
    for tuning in (
        env.alerts.get(f"{component}/{alert}"),
        env.alerts.get(alert),
        own.alerts.get(alert) if own is not None else None,
    ):
        if tuning is not None:
            found = found.merged(tuning)
    return found


__all__ = ["BUCKET", "COUNT", "DURATION", "ROUTE", "STATUS", "SVC", "TEAM", "component_alert_of", "dependency_alert", "exporter_down_alert", "tuning_for"]
