"""Alert value types shared by the generated rules and the platform's own alerts in ``alerts/``.

An :class:`Alert` is one Prometheus alerting rule plus everything on-call needs with it: a
:class:`Severity` from one scale, the owning ``team`` and ``service``, a summary and description
that show the measured value, a runbook link and a link to the dashboard panel that explains it.
It also carries its promtool unit tests (:class:`AlertTest`): an alert without a case where it fires
and a case where it stays silent is a build error, whoever wrote it.

Severity scale (documented in docs/alerts.md):

``page``    users are hurt now or will be within hours; someone is woken up.
``ticket``  needs a human within a working day; goes to the team's chat.
``info``    context for other alerts (inhibition sources, dashboards); notifies nobody.

An environment with ``paging=False`` keeps the same rules and labels (so the rules and their tests
are identical everywhere); its Alertmanager routes ``page`` to the team's chat instead.

Expected annotations in tests are rendered here from the same templates Prometheus expands, for
the few template forms obs uses (``humanize``, ``humanizePercentage``, ``humanizeDuration``,
``printf "%.Nf"``, ``$labels.x``); promtool then proves the rendering equal to Go's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from obs import contract, links
from obs.errors import ModelError
from obs.inhibition import RECENT_OUTAGE
from obs.model import Dependency, Platform, Service, parse_duration


class Severity(StrEnum):
    """How urgently a human must act: obs's scale. The ``severity`` label carries it under the
    platform's names (:data:`SEVERITY_SCHEMES`)."""

    PAGE = "page"
    TICKET = "ticket"
    INFO = "info"


#: The names the ``severity`` label gives each level, per ``Platform.severity_scheme``: obs's own,
#: or kube-prometheus' (critical, warning, info) for teams whose Alertmanager routes on those.
SEVERITY_SCHEMES: Mapping[str, Mapping[Severity, str]] = MappingProxyType(
    {
        "obs": MappingProxyType({Severity.PAGE: "page", Severity.TICKET: "ticket", Severity.INFO: "info"}),
        "kube-prometheus": MappingProxyType(
            {Severity.PAGE: "critical", Severity.TICKET: "warning", Severity.INFO: "info"}
        ),
    }
)


def severity_label(severity: Severity | str, scheme: str = "obs") -> str:
    """The ``severity`` label value of ``severity`` under ``scheme``."""
    return SEVERITY_SCHEMES[scheme][Severity(severity)]


_ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Labels obs sets itself on every alert; authors pass the others through ``labels``.
RESERVED_LABELS = frozenset({"severity", contract.SERVICE_LABEL, contract.TEAM_LABEL, "alertname"})
ANNOTATIONS = ("summary", "description", "runbook_url", "dashboard_url")


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Series:
    """One promtool input series: a selector with labels and values in expanding notation
    (``'0+60x30'``, ``'1x10 0x5'``)."""

    selector: str
    values: str


@dataclass(frozen=True, slots=True)
class Fires:
    """One alert a test expects at its evaluation time.

    ``labels`` are those the expression yields beyond the alert's own (``instance``, ``datname``);
    ``value`` is the measured value the annotations show. ``alert`` names a sibling rule with the
    same alert name (the burn-rate windows of one SLO) when that one fires too; default: the alert
    under test.
    """

    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    alert: Alert | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))


@dataclass(frozen=True, slots=True)
class AlertTest:
    """A promtool unit-test case: input series, one evaluation time, the alerts expected then.

    ``fires=()`` means the alert must stay silent (healthy traffic, low traffic, a blip).
    ``silent_at`` adds earlier evaluation times at which nothing may fire: a blip case checks
    every minute of the blip, so an alert that lost its ``for`` is caught while the blip lasts.
    """

    name: str
    series: tuple[Series, ...]
    eval_time: str
    fires: tuple[Fires, ...] = ()
    interval: str = "1m"
    silent_at: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", tuple(self.series))
        object.__setattr__(self, "fires", tuple(self.fires))
        object.__setattr__(self, "silent_at", tuple(self.silent_at))
        for time in (self.eval_time, *self.silent_at):
            parse_duration(time, f"test {self.name!r}.eval_time")
        parse_duration(self.interval, f"test {self.name!r}.interval")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alerting rule with its metadata and tests.

    Build them with :func:`service_alert` / :func:`component_alert`, which fill ``team``,
    ``runbook_url`` and ``dashboard_url`` from the model.
    """

    name: str
    expr: str
    severity: Severity
    service: str
    team: str
    summary: str
    description: str
    runbook_url: str
    dashboard_url: str
    for_: str = "5m"
    labels: Mapping[str, str] = field(default_factory=dict)
    tests: tuple[AlertTest, ...] = ()
    #: Metrics the expression selects that the contract does not declare (checked like any query).
    declared: frozenset[str] = frozenset()
    #: Where the alert comes from, for error messages: ``alerts/http.py`` or ``services[backend].slos[latency]``.
    source: str = ""
    #: Names of the severity label (a key of :data:`SEVERITY_SCHEMES`; the platform's).
    scheme: str = "obs"
    #: How long the alert stays firing once its condition is gone (Prometheus ``keep_firing_for``).
    keep_firing_for: str = ""

    def __post_init__(self) -> None:
        where = self.where
        if not _ALERT_NAME.match(self.name):
            raise ModelError(
                where, f"{self.name!r} is not an alert name", "use CamelCase, e.g. 'HighErrorRate'"
            )
        try:
            object.__setattr__(self, "severity", Severity(self.severity))
        except ValueError:
            raise ModelError(
                where,
                f"severity {self.severity!r} is not on the scale",
                f"use one of {', '.join(s.value for s in Severity)}",
            ) from None
        if not self.expr.strip():
            raise ModelError(where, "the expression is empty", "write the PromQL condition")
        parse_duration(self.for_, f"{where}.for")
        if self.keep_firing_for:
            parse_duration(self.keep_firing_for, f"{where}.keep_firing_for")
        if self.scheme not in SEVERITY_SCHEMES:
            raise ModelError(where, f"severity scheme {self.scheme!r} is unknown", f"use one of {', '.join(SEVERITY_SCHEMES)}")
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "tests", tuple(self.tests))
        object.__setattr__(self, "declared", frozenset(self.declared))
        for key in self.labels:
            if not _LABEL_NAME.match(key) or key in RESERVED_LABELS:
                raise ModelError(
                    where,
                    f"label {key!r} cannot be set here",
                    "severity, service and team come from the model; use another label name",
                )
        for key in ("summary", "description"):
            if not getattr(self, key).strip():
                raise ModelError(
                    where, f"the {key} is empty", "say what is wrong and show the measured value"
                )
        for key in ("runbook_url", "dashboard_url"):
            url = getattr(self, key)
            if not re.match(r"^https?://\S+$", url):
                # A space inside `{{ $labels.x }}` would end the URL in most chat clients.
                raise ModelError(
                    where,
                    f"{key} {url!r} is not a URL without spaces",
                    "write template variables as {{$labels.service}}",
                )

    @property
    def where(self) -> str:
        return f"{self.source}: alert {self.name}" if self.source else f"alert {self.name}"

    @property
    def all_labels(self) -> dict[str, str]:
        return {
            "severity": severity_label(self.severity, self.scheme),
            contract.SERVICE_LABEL: self.service,
            contract.TEAM_LABEL: self.team,
            **self.labels,
        }

    @property
    def annotations(self) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "dashboard_url": self.dashboard_url,
        }

    def rule(self) -> dict[str, Any]:
        """The rule as Prometheus reads it."""
        rule: dict[str, Any] = {
            "alert": self.name,
            "expr": self.expr,
            "labels": self.all_labels,
            "annotations": self.annotations,
        }
        if parse_duration(self.for_):
            rule["for"] = self.for_
        if self.keep_firing_for and parse_duration(self.keep_firing_for):
            rule["keep_firing_for"] = self.keep_firing_for
        return rule

    def with_tests(self, *tests: AlertTest) -> Alert:
        return replace(self, tests=self.tests + tests)

    def expected(self, fires: Fires) -> dict[str, Any]:
        """The promtool ``exp_alerts`` entry for one expected alert: exact labels and annotations."""
        alert = fires.alert or self
        labels = {**fires.labels, **alert.all_labels}
        annotations = {
            k: render_template(v, labels, fires.value, f"{alert.where}.annotations.{k}")
            for k, v in alert.annotations.items()
        }
        return {"exp_labels": labels, "exp_annotations": annotations}


# --- metadata helpers ---------------------------------------------------------------------------


def runbook_slug(alertname: str, variant: str = "") -> str:
    """The file name (without suffix) of an alert's runbook page: ``errorbudgetburn-latency``."""
    return alertname.lower() + (f"-{variant}" if variant else "")


def runbook_url(base: str, alertname: str, variant: str = "") -> str:
    """``<runbook base of the component>/<alertname-lowercase>[-<variant>].html``: the page the
    ``runbooks`` group writes for the alert (one per alert and SLO)."""
    return f"{base.rstrip('/')}/{runbook_slug(alertname, variant)}.html"


def platform_runbook_base(platform: Platform, component: str) -> str:
    """The runbook base for something with no runbook URL of its own (node, Prometheus, ...):
    ``<platform.runbook_base_url>/<component>``, or without one the origin the components'
    runbooks share (``https://runbooks.example.org/<component>``)."""
    if platform.runbook_base_url:
        return f"{platform.runbook_base_url.rstrip('/')}/{component}"
    for comp in platform.components():
        if comp.runbook_base_url:
            match = re.match(r"^(https?://[^/]+)", comp.runbook_base_url)
            if match:
                return f"{match.group(1)}/{component}"
    raise ModelError(
        "runbook_base_url",
        f"no runbook URL in the platform to derive one for {component!r} from",
        "set the platform's runbook_base_url, e.g. 'https://runbooks.example.org', or runbook_base_url on a service",
    )


def component_runbook_base(platform: Platform, component: Service | Dependency) -> str:
    return component.runbook_base_url or platform_runbook_base(platform, component.name)


def service_alert(
    platform: Platform,
    service: Service,
    *,
    name: str,
    expr: str,
    severity: Severity | str,
    summary: str,
    description: str,
    panel: links.ServicePanel,
    for_: str = "5m",
    labels: Mapping[str, str] | None = None,
    tests: Iterable[AlertTest] = (),
    declared: Iterable[str] = (),
) -> Alert:
    """An alert about an instrumented service, linked to a panel of its service dashboard."""
    return Alert(
        name=name,
        expr=expr,
        severity=Severity(severity),
        service=service.name,
        team=service.team,
        summary=summary,
        description=description,
        runbook_url=runbook_url(component_runbook_base(platform, service), name),
        dashboard_url=links.dashboard_url(
            platform.grafana_url,
            links.service_dashboard_uid(service.name),
            panel,
            **{contract.SERVICE_LABEL: service.name},
        ),
        for_=for_,
        labels=labels or {},
        tests=tuple(tests),
        declared=frozenset(declared),
        scheme=platform.severity_scheme,
    )


def component_alert(
    platform: Platform,
    *,
    name: str,
    expr: str,
    severity: Severity | str,
    service: str,
    team: str,
    summary: str,
    description: str,
    dashboard_uid: str,
    panel: int | None,
    runbook_base: str,
    for_: str = "5m",
    labels: Mapping[str, str] | None = None,
    tests: Iterable[AlertTest] = (),
    declared: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
) -> Alert:
    """An alert about any component (datastore, node, probe, Prometheus itself)."""
    return Alert(
        name=name,
        expr=expr,
        severity=Severity(severity),
        service=service,
        team=team,
        summary=summary,
        description=description,
        runbook_url=runbook_url(runbook_base, name),
        dashboard_url=links.dashboard_url(
            platform.grafana_url, dashboard_uid, panel, **dict(variables or {})
        ),
        for_=for_,
        labels=labels or {},
        tests=tuple(tests),
        declared=frozenset(declared),
        scheme=platform.severity_scheme,
    )


def require_tests(alert: Alert) -> None:
    """An alert must prove it fires (with exact labels and annotations) and that it stays silent."""
    if not any(t.fires for t in alert.tests):
        raise ModelError(
            alert.where, "has no test case where it fires", "add AlertTest(..., fires=(Fires(value=...),))"
        )
    if not any(not t.fires for t in alert.tests):
        raise ModelError(
            alert.where,
            "has no test case where it must stay silent",
            "add AlertTest(..., fires=()) with healthy input",
        )
    for test in alert.tests:
        for fires in test.fires:
            if fires.alert is not None and fires.alert.name != alert.name:
                raise ModelError(
                    alert.where,
                    f"test {test.name!r} expects {fires.alert.name}, a different alert",
                    "test each alert name on its own",
                )


# --- Prometheus template functions, for expected annotations ------------------------------------

_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_LABEL_REF = re.compile(r"^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$")
_PIPE = re.compile(r"^\$value\s*\|\s*(humanize|humanizePercentage|humanizeDuration|humanize1024)$")
_PRINTF = re.compile(r'^printf\s+"%\.(\d)f"\s+\$value$')


def _g4(value: float) -> str:
    # Go's %.4g and Python's agree on the values alerts show (no exact .5 ties at 4 digits).
    return f"{value:.4g}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    if abs(value) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = p
            value /= 1000
        return f"{_g4(value)}{prefix}"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}"


def humanize1024(value: float) -> str:
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(value) < 1024:
            break
        prefix = p
        value /= 1024
    return f"{_g4(value)}{prefix}"


def humanize_percentage(value: float) -> str:
    return f"{_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return f"{_g4(value)}s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        total = int(value)
        seconds, minutes, hours, days = total % 60, (total // 60) % 60, (total // 3600) % 24, total // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(value)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}s"


_FUNCTIONS = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def render_template(template: str, labels: Mapping[str, str], value: float, where: str = "") -> str:
    """Expand an annotation the way Prometheus does, for the template forms obs supports.

    Anything else raises :class:`ModelError`: a test could not state what on-call will read.
    """

    def expand(match: re.Match[str]) -> str:
        action = match.group(1)
        if m := _LABEL_REF.match(action):
            return labels.get(m.group(1), "")
        if m := _PIPE.match(action):
            return _FUNCTIONS[m.group(1)](value)
        if m := _PRINTF.match(action):
            return f"{value:.{int(m.group(1))}f}"
        raise ModelError(
            where,
            f"template action {{{{ {action} }}}} is not one obs can predict in tests",
            'use $labels.<name>, $value | humanize / humanizePercentage / humanizeDuration, or printf "%.1f" $value',
        )

    return _TEMPLATE.sub(expand, template)


#: The always-firing dead man's switch (rendered when ``Platform.heartbeat_url`` is set): routed
#: to the heartbeat alone, and left out of "what fires now" views.
WATCHDOG = "Watchdog"


__all__ = [
    "ANNOTATIONS",
    "RECENT_OUTAGE",
    "SEVERITY_SCHEMES",
    "WATCHDOG",
    "Alert",
    "AlertTest",
    "Fires",
    "Series",
    "Severity",
    "component_alert",
    "component_runbook_base",
    "humanize",
    "humanize_duration",
    "humanize_percentage",
    "platform_runbook_base",
    "render_template",
    "require_tests",
    "runbook_slug",
    "runbook_url",
    "service_alert",
    "severity_label",
]
