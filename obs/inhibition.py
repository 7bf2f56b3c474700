"""What silences what: the outages that explain other services' symptoms.

Alertmanager's inhibit rules (:mod:`obs.renderers.alertmanager`), the ``RecentOutage`` holds
(:mod:`obs.catalogue.alerts.services`) and the runbooks' "related alerts" (:mod:`obs.renderers.runbooks`)
all read these relationships from the model, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from obs.model import Platform, Service

#: The alerts saying a dependency of each kind is down. Each inhibits the symptoms of the services
#: that depend on the dependency (an instrumented service's own cause is ``ServiceDown``, a probed
#: one's ``ProbeFailing``).
CAUSE_ALERTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"postgres": ("PostgresDown",), "redis": ("RedisDown",), "http": ("ProbeFailing",)}
)
#: Alerts that show a service's users are hurt; an outage upstream explains them.
SYMPTOM_ALERTS: tuple[str, ...] = ("HighErrorRate", "LatencyP99High", "ErrorBudgetBurn")
#: The info alert that keeps a cause's inhibition while the symptoms' windows clear.
RECENT_OUTAGE = "RecentOutage"

#: The cause alerts of a service: an instrumented one stops answering, a probed one fails its probe.
SERVICE_CAUSE = "ServiceDown"
PROBED_CAUSE = "ProbeFailing"


def upstream(platform: Platform, service: Service) -> list[str]:
    """What ``service`` depends on, directly (first, in its order) or through other services."""
    services = {s.name: s for s in platform.services}
    found: list[str] = []
    pending = list(service.depends_on)
    while pending:
        name = pending.pop(0)
        if name in found or name == service.name:
            continue
        found.append(name)
        if name in services:
            pending.extend(services[name].depends_on)
    return found


def cause_alerts(platform: Platform, component: str) -> tuple[str, ...]:
    """The alerts saying ``component`` is down, and the hold that outlasts them."""
    services = {s.name: s for s in platform.services}
    own: tuple[str, ...]
    if component in services:
        own = (SERVICE_CAUSE,) if services[component].kind.instrumented else (PROBED_CAUSE,)
    else:
        dep = next(d for d in platform.dependencies if d.name == component)
        own = CAUSE_ALERTS[dep.kind.value]
    return (*own, RECENT_OUTAGE)


@dataclass(frozen=True, slots=True)
class Inhibition:
    """One inhibit rule, as data the runbooks read too: ``sources`` silence ``targets``."""

    sources: tuple[str, ...]
    source_service: str
    targets: tuple[str, ...]
    target_service: str
    why: str


def inhibitions(platform: Platform) -> list[Inhibition]:
    """Every component's outage silencing the symptoms of the services that depend on it
    (through the services in between too: bridge -> backend -> postgres)."""
    found: list[Inhibition] = []
    for service in platform.instrumented_services:
        for dep in upstream(platform, service):
            found.append(
                Inhibition(
                    sources=cause_alerts(platform, dep),
                    source_service=dep,
                    targets=SYMPTOM_ALERTS,
                    target_service=service.name,
                    why=f"{service.name} depends on {dep}: while {dep} is down (and for the hold after), its errors are {dep}'s",
                )
            )
    return found


__all__ = [
    "CAUSE_ALERTS",
    "PROBED_CAUSE",
    "RECENT_OUTAGE",
    "SERVICE_CAUSE",
    "SYMPTOM_ALERTS",
    "Inhibition",
    "cause_alerts",
    "inhibitions",
    "upstream",
]
