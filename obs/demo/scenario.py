"""The demo's story: incidents on a schedule (or on a key press), each started and healed on time.

Times are *platform* time, what the incident would take on the real configuration; the stack's
time scale divides them into wall-clock time, so ``--time-scale 30`` plays a ten-minute error
burst in twenty seconds, as it plays the rules' ``for`` and windows.

The default story, on the platform's most critical service with SLOs (``backend`` in the
built-in platform), a datastore it uses (Redis first) and its callers:

1. five minutes of healthy traffic: no alert but the Watchdog;
2. an error burst (half the requests answer 500) for ten minutes: the SLO page and HighErrorRate
   fire, the team's receiver gets them; ten minutes of recovery: resolved notifications;
3. added latency (twice the latency SLO's threshold) for fifteen minutes: LatencyP99High and the
   latency SLO burn; ten minutes of recovery;
4. the datastore stopped for twelve minutes: its down alert fires and inhibits the services'
   error alerts; started again, ten minutes of recovery;
5. the service stopped for twelve minutes: TargetDown, its callers' errors inhibited; ten minutes
   of recovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from obs.demo.apps.faults import NO_FAULT
from obs.demo.observe import Timeline
from obs.demo.stack import DemoError, Stack
from obs.model import DependencyKind, LatencySLI, Platform, Service

INCIDENT_KINDS = ("errors", "latency", "dependency", "service")
#: The share of requests an error burst fails.
ERROR_RATIO = 0.5
HEALTHY_FIRST = 5 * 60
RECOVERY = 10 * 60
#: Long enough for the slowest alert of each incident to fire: HighErrorRate needs its 5m window
#: and 5m ``for`` while the dependency's down alert still holds, for the inhibition to show.
DURATIONS = {"errors": 10 * 60, "latency": 15 * 60, "dependency": 12 * 60, "service": 12 * 60}


@dataclass(frozen=True, slots=True)
class Incident:
    """``kind`` on ``target`` from ``start`` for ``duration`` platform seconds."""

    kind: str
    target: str
    start: float
    duration: float
    latency_seconds: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def describe(self) -> str:
        return {
            "errors": f"error burst on {self.target}: {ERROR_RATIO:.0%} of requests answer 500",
            "latency": f"{self.latency_seconds:g}s added to every {self.target} request",
            "dependency": f"{self.target} stopped",
            "service": f"{self.target} stopped",
        }[self.kind]


def main_service(platform: Platform) -> Service:
    """The service the story happens to: the most critical instrumented one with SLOs."""
    candidates = [s for s in platform.instrumented_services if s.slos] or list(platform.instrumented_services)
    if not candidates:
        raise DemoError("the platform has no instrumented (fastapi or flask) service for the demo to run")
    return min(candidates, key=lambda s: s.tier)


def latency_for(service: Service) -> float:
    """Twice the tightest latency SLO threshold (0.5s without one)."""
    thresholds = [s.sli.threshold_seconds for s in service.slos if isinstance(s.sli, LatencySLI)]
    return round(2 * min(thresholds), 3) if thresholds else 0.5


def datastore_of(platform: Platform, service: Service) -> str | None:
    deps = {d.name: d for d in platform.dependencies if d.kind.exporter}
    used = [deps[n] for n in service.depends_on if n in deps]
    used.sort(key=lambda d: d.kind is not DependencyKind.REDIS)
    return used[0].name if used else None


def story(platform: Platform, kinds: Iterable[str] = INCIDENT_KINDS) -> tuple[Incident, ...]:
    """The default story (module docstring), with only the incident ``kinds`` asked for."""
    wanted = list(kinds)
    unknown = [k for k in wanted if k not in INCIDENT_KINDS]
    if unknown:
        raise DemoError(f"--scenario: {', '.join(unknown)} is not an incident; use any of {', '.join(INCIDENT_KINDS)}, or none")
    service = main_service(platform)
    store = datastore_of(platform, service)
    incidents: list[Incident] = []
    at: float = HEALTHY_FIRST
    for kind in INCIDENT_KINDS:
        if kind not in wanted or (kind == "dependency" and store is None):
            continue
        target = store if kind == "dependency" and store else service.name
        incidents.append(Incident(kind, target, at, DURATIONS[kind], latency_for(service) if kind == "latency" else 0.0))
        at += DURATIONS[kind] + RECOVERY
    return tuple(incidents)


def length(incidents: Sequence[Incident]) -> float:
    """Platform seconds until the last recovery ends (the healthy start alone without incidents)."""
    return max((i.end + RECOVERY for i in incidents), default=HEALTHY_FIRST)


class Scenario:
    """Plays ``incidents`` on ``stack``: call :meth:`tick` with the platform seconds elapsed."""

    def __init__(self, stack: Stack, incidents: Sequence[Incident], timeline: Timeline) -> None:
        self.stack = stack
        self.incidents = tuple(incidents)
        self.timeline = timeline
        self.active: set[Incident] = set()
        self.done: set[Incident] = set()

    def tick(self, elapsed: float) -> None:
        for incident in self.incidents:
            if incident not in self.active and incident not in self.done and elapsed >= incident.start:
                self.begin(incident)
            if incident in self.active and elapsed >= incident.end:
                self.heal(incident)

    def finished(self, elapsed: float) -> bool:
        return elapsed >= length(self.incidents)

    def begin(self, incident: Incident) -> None:
        self.timeline.add("scenario", f"begins: {incident.describe()}")
        if incident.kind in ("errors", "latency"):
            self._fault(incident, ERROR_RATIO if incident.kind == "errors" else incident.latency_seconds)
        else:
            self.stack.stop_component(incident.target)
        self.active.add(incident)

    def heal(self, incident: Incident) -> None:
        if incident in self.active:
            if incident.kind in ("errors", "latency"):
                self._fault(incident, 0.0)
            else:
                self.stack.start_component(incident.target)
            self.timeline.add("scenario", f"healed: {incident.describe()}")
        self.active.discard(incident)
        self.done.add(incident)

    def _fault(self, incident: Incident, value: float) -> None:
        """Set the error share (errors) or the added latency (latency) of the target, keeping the other."""
        fault = self.stack.faults.get(incident.target, NO_FAULT)
        changed = replace(fault, error_ratio=value) if incident.kind == "errors" else replace(fault, latency_seconds=value)
        self.stack.set_fault(incident.target, changed)

    def heal_all(self) -> None:
        for incident in list(self.active):
            self.heal(incident)


def manual(stack: Stack, kind: str) -> Incident:
    """An incident of ``kind`` on the story's targets, for a key press (no schedule)."""
    service = main_service(stack.platform)
    store = datastore_of(stack.platform, service)
    target = store if kind == "dependency" and store else service.name
    return Incident(kind, target, 0.0, float("inf"), latency_for(service) if kind == "latency" else 0.0)


__all__ = ["DURATIONS", "ERROR_RATIO", "INCIDENT_KINDS", "Incident", "Scenario", "length", "main_service", "manual", "story"]
