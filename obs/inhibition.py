"""What silences what: the outages that explain other services' symptoms.

Alertmanager's inhibit rules (:mod:`obs.renderers.alertmanager`), the ``RecentOutage`` holds
(:mod:`obs.catalogue.alerts.services`) and the runbooks' "related alerts" (:mod:`obs.renderers.runbooks`)
all read these relationships from the model, so they cannot disagree.
"""

from __future__ import annotations

from collections import deque
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


def _upstream(services: Mapping[str, Service], service: Service) -> list[str]:
    found: list[str] = []
    seen = {service.name}
    pending = deque(service.depends_on)
    while pending:
        name = pending.popleft()
        if name in seen:
            continue
        seen.add(name)
        found.append(name)
        if name in services:
            pending.extend(services[name].depends_on)
    return found


def upstream(platform: Platform, service: Service) -> list[str]:
    """What ``service`` depends on, directly (first, in its order) or through other services."""
    return _upstream({s.name: s for s in platform.services}, service)


def _cause_alerts(platform: Platform, services: Mapping[str, Service], component: str) -> tuple[str, ...]:
    """The alerts saying ``component`` is down, and the hold that outlasts them."""
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
    return list(Relations.of(platform).inhibitions)


@dataclass(frozen=True)
class Relations:
    """The platform's dependencies and inhibitions, worked out once: a runbook per alert reads
    them, so looking them up must not walk the platform again."""

    #: service -> what it depends on, directly or through other services (as :func:`upstream`).
    upstream: Mapping[str, tuple[str, ...]]
    #: component -> the services that depend on it, directly or not, in the platform's order.
    dependants: Mapping[str, tuple[str, ...]]
    #: Every inhibition, in the order the Alertmanager configuration lists them.
    inhibitions: tuple[Inhibition, ...]
    #: service -> positions in ``inhibitions`` of those that silence its alerts or that it causes.
    _touching: Mapping[str, tuple[int, ...]]

    def touching(self, service: str) -> list[Inhibition]:
        """The inhibitions that silence ``service``'s alerts or that its alerts cause, in order."""
        return [self.inhibitions[n] for n in self._touching.get(service, ())]

    @classmethod
    def of(cls, platform: Platform) -> Relations:
        services = {s.name: s for s in platform.services}
        ups = {s.name: tuple(_upstream(services, s)) for s in platform.services}
        dependants: dict[str, list[str]] = {}
        for service in platform.services:
            for name in ups[service.name]:
                dependants.setdefault(name, []).append(service.name)
        causes: dict[str, tuple[str, ...]] = {}
        found: list[Inhibition] = []
        for service in platform.instrumented_services:
            for dep in ups[service.name]:
                if dep not in causes:
                    causes[dep] = _cause_alerts(platform, services, dep)
                found.append(
                    Inhibition(
                        sources=causes[dep],
                        source_service=dep,
                        targets=SYMPTOM_ALERTS,
                        target_service=service.name,
                        why=f"{service.name} depends on {dep}: while {dep} is down (and for the hold after), its errors are {dep}'s",
                    )
                )
        touching: dict[str, list[int]] = {}
        for n, inh in enumerate(found):
            for name in dict.fromkeys((inh.target_service, inh.source_service)):
                touching.setdefault(name, []).append(n)
        return cls(
            upstream=MappingProxyType(ups),
            dependants=MappingProxyType({k: tuple(v) for k, v in dependants.items()}),
            inhibitions=tuple(found),
            _touching=MappingProxyType({k: tuple(v) for k, v in touching.items()}),
        )


__all__ = [
    "CAUSE_ALERTS",
    "PROBED_CAUSE",
    "RECENT_OUTAGE",
    "SERVICE_CAUSE",
    "SYMPTOM_ALERTS",
    "Inhibition",
    "Relations",
    "inhibitions",
    "upstream",
]
