"""Alerts written as YAML, for platforms that keep their content as data (a YAML platform never
runs code). Each entry becomes the same :class:`~obs.alerting.Alert` a Python module would build
with :func:`~obs.alerting.service_alert` or :func:`~obs.alerting.component_alert`: severity scale,
``service``/``team`` labels, runbook and dashboard links, the contract check of its PromQL, and the
rule that it proves with tests that it fires and that it stays silent.

.. code-block:: yaml

    alerts:
      - name: CheckoutErrors
        component: api                 # a service or dependency of the platform
        severity: ticket               # page, ticket or info
        expr: sum(rate(http_server_requests_total{service="api", http_response_status_code=~"5.."}[5m])) > 1
        for: 5m
        summary: api fails {{ $value | humanize }} requests a second
        description: More than one request a second failed over 5m.
        panel: error_ratio             # services: a panel of the service dashboard (default: request_rate)
        tests:
          - name: errors for 15m
            series:
              - {series: 'http_server_requests_total{service="api", http_response_status_code="500"}', values: '0+120x15'}
            eval_time: 15m
            fires: [{value: 2}]
          - name: healthy
            series:
              - {series: 'http_server_requests_total{service="api", http_response_status_code="200"}', values: '0+600x15'}
            eval_time: 15m
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obs import links
from obs.alerting import (
    Alert,
    AlertTest,
    Fires,
    Series,
    Severity,
    component_alert,
    component_runbook_base,
    service_alert,
)
from obs.errors import ModelError
from obs.model import Dependency, DependencyKind, Platform, Service, doc

_DEPENDENCY_DASHBOARDS: Mapping[DependencyKind, tuple[str, int | None]] = {
    DependencyKind.POSTGRES: (links.POSTGRES_UID, int(links.PostgresPanel.UP)),
    DependencyKind.REDIS: (links.REDIS_UID, int(links.RedisPanel.UP)),
    DependencyKind.HTTP: (links.BLACKBOX_UID, int(links.BlackboxPanel.PROBE_SUCCESS)),
}


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """One promtool input series."""

    series: str = doc("Selector with every label, e.g. 'up{job=\"api\", instance=\"a:1\"}'.")
    values: str = doc("Values in promtool's expanding notation, e.g. '0+60x15' or '1x10 0x5'.")


@dataclass(frozen=True, slots=True)
class FiresSpec:
    """One alert a test expects at its evaluation time."""

    value: float = doc("The measured value the annotations show.")
    labels: Mapping[str, str] = doc("Labels the expression yields beyond the alert's own.", default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestSpec:
    """A promtool unit-test case."""

    name: str = doc("What the case shows, e.g. 'healthy traffic'.")
    series: tuple[SeriesSpec, ...] = doc("Input series.")
    eval_time: str = doc("When the expectation is checked, e.g. '15m'.")
    fires: tuple[FiresSpec, ...] = doc("Expected alerts then (empty: must stay silent).", default=())
    silent_at: tuple[str, ...] = doc("Earlier times at which nothing may fire.", default=())
    interval: str = doc("Spacing of the input values.", default="1m")


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """One alert of a YAML alert file."""

    name: str = doc("CamelCase alert name, e.g. 'CheckoutErrors'.")
    component: str = doc("The service or dependency the alert is about; its team gets it.")
    severity: str = doc("page, ticket or info.")
    expr: str = doc("The PromQL condition.")
    summary: str = doc("One line on-call reads first; may show {{ $value }}.")
    description: str = doc("What is wrong and what to look at.")
    tests: tuple[TestSpec, ...] = doc("promtool cases: at least one where it fires and one where it stays silent.")
    for_: str = doc("How long the condition must hold.", default="5m", key="for")
    panel: str = doc("Services: the service dashboard panel to link (e.g. error_ratio).", default="request_rate")
    labels: Mapping[str, str] = doc("Extra labels.", default_factory=dict)
    declared: tuple[str, ...] = doc("Metrics the expression reads that the metrics contract does not list.", default=())


@dataclass(frozen=True, slots=True)
class AlertFile:
    alerts: tuple[AlertSpec, ...] = doc("The alerts.")


def _test(spec: TestSpec) -> AlertTest:
    return AlertTest(
        name=spec.name,
        series=tuple(Series(s.series, s.values) for s in spec.series),
        eval_time=spec.eval_time,
        fires=tuple(Fires(value=f.value, labels=f.labels) for f in spec.fires),
        interval=spec.interval,
        silent_at=spec.silent_at,
    )


def _alert(spec: AlertSpec, platform: Platform, where: str) -> Alert:
    components = {c.name: c for c in platform.components()}
    component = components.get(spec.component)
    if component is None:
        raise ModelError(f"{where}.component", f"{spec.component!r} is not a service or dependency of the platform", f"use one of {', '.join(sorted(components))}")
    try:
        severity = Severity(spec.severity)
    except ValueError:
        raise ModelError(f"{where}.severity", f"{spec.severity!r} is not on the scale", f"use one of {', '.join(s.value for s in Severity)}") from None
    tests = tuple(_test(t) for t in spec.tests)
    common: dict[str, Any] = {
        "name": spec.name,
        "expr": spec.expr,
        "severity": severity,
        "summary": spec.summary,
        "description": spec.description,
        "for_": spec.for_,
        "labels": spec.labels,
        "tests": tests,
        "declared": spec.declared,
    }
    if isinstance(component, Service):
        panels = {p.name.lower(): p for p in links.ServicePanel}
        panel = panels.get(spec.panel.lower())
        if panel is None:
            raise ModelError(f"{where}.panel", f"{spec.panel!r} is not a panel of the service dashboard", f"use one of {', '.join(sorted(panels))}")
        return service_alert(platform, component, panel=panel, **common)
    assert isinstance(component, Dependency)
    uid, panel_id = _DEPENDENCY_DASHBOARDS[component.kind]
    return component_alert(
        platform,
        service=component.name,
        team=component.team,
        dashboard_uid=uid,
        panel=panel_id,
        runbook_base=component_runbook_base(platform, component),
        variables={"service": component.name},
        **common,
    )


def alerts_from_yaml(text: str, source: str, platform: Platform) -> list[Alert]:
    """The alerts of one YAML alert file; :class:`ModelError` names the file and the entry."""
    from obs.convert import convert_dataclass
    from obs.loader import safe_load

    data = safe_load(text, source)
    if not isinstance(data, Mapping):
        raise ModelError(source, "the top level must be a mapping", "start with `alerts:`")
    try:
        parsed: AlertFile = convert_dataclass(AlertFile, data, "")
    except ModelError as err:
        raise ModelError(f"{source}: {err.path}", err.problem, err.fix) from None
    found: list[Alert] = []
    for spec in parsed.alerts:
        where = f"{source}: alerts[{spec.name}]"
        try:
            found.append(_alert(spec, platform, where))
        except ModelError as err:
            raise err if err.path.startswith(source) else ModelError(where, err.problem, err.fix) from None
    return found


def alert_file_schema() -> dict[str, Any]:
    """The JSON Schema of a YAML alert file (``obs schema --alerts``)."""
    from obs.convert import dataclass_schema

    return dataclass_schema(AlertFile, "obs alert file")


__all__ = ["AlertFile", "AlertSpec", "alert_file_schema", "alerts_from_yaml"]

