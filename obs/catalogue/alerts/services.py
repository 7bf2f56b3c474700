"""Alerts about every instrumented service beside its SLOs: the service down, p99 latency, missing
instrumentation; and the hold that keeps the symptoms of an outage quiet while they clear.

``ServiceDown`` pages the owning team at the severity the service's tier calls for as soon as no
instance answers Prometheus: a dead service serves no request, so its SLO alerts go blind exactly
when it matters. It (and every other cause: PostgresDown, RedisDown, ProbeFailing) inhibits the
symptoms of the services that depend on it (:mod:`obs.renderers.alertmanager`); ``RecentOutage``
keeps that inhibition for :data:`OUTAGE_HOLD` after the cause clears, since the symptoms' windows
still hold the outage: they end while inhibited and are never delivered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from obs import contract, links
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
from obs.catalogue.alerts._common import BUCKET, REQUESTS, ROUTE, STATUS, SVC, TEAM, tuning_for
from obs.catalogue.alerts.slo import slo_matchers
from obs.inhibition import CAUSE_ALERTS, RECENT_OUTAGE
from obs.model import SLO, AlertTuning, Dependency, Environment, LatencySLI, Platform, Service, parse_duration
from obs.rules.testgen import Signal, every_minute, num, threshold_cases

#: Symptom thresholds that are policy, not model data; each has its reason.
HIGH_LATENCY_DEFAULT_SECONDS = 1.0  # p99 for services with no latency SLO: a page load that feels broken

SERVICE_DOWN = "ServiceDown"
#: What a dead service's owner gets, by tier: tiers 1 and 2 page (students blocked or degraded),
#: tier 3 (best effort) opens a ticket.
TIER_SEVERITY: Mapping[int, Severity] = {1: Severity.PAGE, 2: Severity.PAGE, 3: Severity.TICKET}
#: Two failed scrapes in a row at the usual interval: a restart's single miss stays quiet, and the
#: owner is paged before any dependant's symptom could be (see docs/alerts.md, "A dead service").
SERVICE_DOWN_FOR = "1m"
#: How long the symptoms of an outage stay inhibited after its cause clears: the longest short
#: window of a page (30m, the 6h row's) and a margin for evaluation and grouping.
OUTAGE_HOLD = "35m"

#: The catalogue alerts of this module, with the unit of the threshold a tuning may set.
ALERTS: Mapping[str, str | None] = {
    SERVICE_DOWN: None,
    "LatencyP99High": "seconds (p99 over 5m)",
    "InstrumentationMissing": None,
    RECENT_OUTAGE: None,
}


def _latency_slo(service: Service) -> SLO | None:
    """The latency SLO whose threshold the p99 alert uses: the loosest, if there are several."""
    slos = [s for s in service.slos if isinstance(s.sli, LatencySLI)]
    return max(slos, key=lambda s: s.sli.threshold_seconds) if slos else None  # type: ignore[union-attr]


def _bucket_above(threshold: float) -> tuple[float, float]:
    """The histogram bucket (lower, upper] just above ``threshold``, to build slow requests: the
    last one, (largest bound, +Inf], when fewer than two bounds are above it."""
    above = [b for b in contract.HTTP_DURATION_BUCKETS if b > threshold]
    if len(above) < 2:
        return contract.HTTP_DURATION_BUCKETS[-1], math.inf
    return above[0], above[1]


def _tuned(alert: Alert, tuning: AlertTuning) -> Alert:
    """``alert`` with the model's severity and ``for`` (its tests follow: they are built after)."""
    if tuning.severity:
        alert = replace(alert, severity=Severity(tuning.severity))
    if tuning.for_:
        alert = replace(alert, for_=tuning.for_)
    return alert


def service_down_alert(platform: Platform, env: Environment, service: Service) -> Alert | None:
    """The page (or ticket, by tier) when no instance of ``service`` answers Prometheus."""
    tuning = tuning_for(platform, env, service.name, SERVICE_DOWN)
    if tuning.enabled is False:
        return None
    job = f'job="{service.name}"'
    alert = _tuned(
        service_alert(
            platform,
            service,
            name=SERVICE_DOWN,
            expr=f"max by (job) (up{{{job}}}) == 0",
            severity=TIER_SEVERITY[service.tier],
            summary=f"{service.name} does not answer: every instance failed its scrape",
            description=(
                f"No instance of {service.name} (tier {service.tier}) has answered Prometheus for {tuning.for_ or SERVICE_DOWN_FOR}: "
                f"its users get no answer, and its SLO alerts are blind (no request is recorded). The symptoms of the "
                f"services that depend on it are held back while it is down and for {OUTAGE_HOLD} after."
            ),
            panel=links.ServicePanel.TARGET_UP,
            for_=SERVICE_DOWN_FOR,
        ),
        tuning,
    )
    up = f'up{{{job}, instance="{service.name}:{service.port}", {SVC}="{service.name}", {TEAM}="{service.team}"}}'
    other = f'up{{{job}, instance="{service.name}-1:{service.port}", {SVC}="{service.name}", {TEAM}="{service.team}"}}'
    fires = Fires(value=0, labels={"job": service.name})
    cases = list(threshold_cases([Signal(up, 1, 0)], alert.for_, fires))
    # One instance of two down is not the service down: the other still answers.
    cases.append(AlertTest("healthy: one instance of two down", (Series(up, "0x20"), Series(other, "1x20")), "15m"))
    return alert.with_tests(*cases)


def latency_alert(platform: Platform, service: Service, env: Environment | None = None) -> Alert | None:
    tuning = tuning_for(platform, env, service.name, "LatencyP99High") if env is not None else AlertTuning()
    if tuning.enabled is False:
        return None
    slo = _latency_slo(service)
    threshold = float(slo.sli.threshold_seconds) if slo is not None else HIGH_LATENCY_DEFAULT_SECONDS  # type: ignore[union-attr]
    if tuning.threshold is not None:
        threshold = float(tuning.threshold)
    name = "LatencyP99High"
    # The routes the latency SLO leaves out (a report export, slow by design) are left out here
    # too: otherwise they raise this ticket while the SLO they were excluded from is healthy.
    selector = slo_matchers(service, slo) if slo is not None else f'{{{SVC}="{service.name}"}}'
    expr = f"histogram_quantile(0.99, sum by (le) (rate({BUCKET}{selector}[5m]))) > {num(threshold)}"
    base = f'{SVC}="{service.name}", job="{service.name}"'
    lower, upper = _bucket_above(threshold)
    fast_le = contract.HTTP_DURATION_BUCKETS[0]
    per_minute = 600.0
    # Slow minutes put every request in (lower, upper]; fast ones in the first bucket.
    uppers = [upper] if math.isfinite(upper) else []
    signals = [
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(fast_le)}"}}', per_minute, 0.0, counter=True),
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(lower)}"}}', per_minute, 0.0, counter=True),
        *(Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(b)}"}}', per_minute, per_minute, counter=True) for b in uppers),
        Signal(f'{BUCKET}{{{base}, le="+Inf"}}', per_minute, per_minute, counter=True),
    ]
    # histogram_quantile gives the largest finite bound for a quantile in the +Inf bucket.
    p99 = lower + (upper - lower) * 0.99 if uppers else lower
    alert = _tuned(
        service_alert(
            platform,
            service,
            name=name,
            expr=expr,
            severity=Severity.TICKET,
            summary=f"{service.name} p99 latency is {{{{ $value | humanizeDuration }}}}",
            description=(
                f"99% of {service.name} requests over the last 5m finished within {{{{ $value | humanizeDuration }}}}, "
                f"above {threshold:g}s for {tuning.for_ or '10m'}. Check the slowest routes panel and the traces of slow requests."
            ),
            panel=links.ServicePanel.LATENCY_PERCENTILES,
            for_="10m",
        ),
        tuning,
    )
    cases = list(threshold_cases(signals, alert.for_, Fires(value=p99), window_minutes=5))
    if slo is not None and slo.exclude_routes:
        # Half the requests slow, all on the excluded route: p99 over everything would fire.
        minutes = 40
        slow, fast = f'{base}, {ROUTE}="{slo.exclude_routes[0]}"', f'{base}, {ROUTE}="/slo-probe"'
        steady, idle = f"0+{num(per_minute)}x{minutes}", f"0x{minutes}"
        bounds = [contract.format_bucket(b) for b in (fast_le, lower, *uppers)] + ["+Inf"]
        slow_by_bound = (idle, idle, steady, steady) if uppers else (idle, idle, steady)
        cases.append(
            AlertTest(
                "healthy: the slow requests are on a route the latency SLO leaves out",
                tuple(
                    Series(f'{BUCKET}{{{labels}, le="{le}"}}', values)
                    for le, slow_values in zip(bounds, slow_by_bound, strict=True)
                    for labels, values in ((fast, steady), (slow, slow_values))
                ),
                f"{minutes}m",
            )
        )
    return alert.with_tests(*cases)


def instrumentation_alert(platform: Platform, service: Service, env: Environment | None = None) -> Alert | None:
    tuning = tuning_for(platform, env, service.name, "InstrumentationMissing") if env is not None else AlertTuning()
    if tuning.enabled is False:
        return None
    name = "InstrumentationMissing"
    # target_info is exported from instrument() on, before any request: an idle service (a quiet
    # night, a bridge nobody called since its restart) has it and no request series yet.
    info = contract.TARGET_INFO.name
    expr = (
        f'up{{job="{service.name}"}} == 1\nunless on (job, instance) group by (job, instance) '
        f'({REQUESTS}{{job="{service.name}"}} or {info}{{job="{service.name}"}})'
    )
    instance = f"{service.name}:{service.port}"
    up = Series(f'up{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {TEAM}="{service.team}"}}', "1x60")
    alert = _tuned(
        service_alert(
            platform,
            service,
            name=name,
            expr=expr,
            severity=Severity.TICKET,
            summary=f"{service.name} on {{{{$labels.instance}}}} is up but exports no HTTP metrics",
            description=(
                f"Prometheus scrapes {{{{$labels.instance}}}} but finds neither {info} nor {REQUESTS} series: the obs instrumentation "
                f'is not installed or not reached, so the SLOs of {service.name} are blind. Call instrumentation.instrument(app, service_name="{service.name}").'
            ),
            panel=links.ServicePanel.TARGET_UP,
            for_="30m",
        ),
        tuning,
    )
    hold = max(40, _minutes(alert.for_) + 10)
    req = f'{REQUESTS}{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {STATUS}="200"}}'
    up = Series(up.selector, f"1x{hold + 20}")
    return alert.with_tests(
        AlertTest(f"up without HTTP metrics for {hold}m", (up,), f"{hold}m", fires=(Fires(value=1, labels={"job": service.name, "instance": instance}),)),
        AlertTest("healthy: up and counting requests", (up, Series(req, "0+60x60")), f"{hold}m"),
        AlertTest(
            "healthy: instrumented, idle since its start (no request series yet)",
            (
                up,
                Series(
                    f'{info}{{job="{service.name}", instance="{instance}", service_name="{service.name}", '
                    f'service_version="1.0.0", deployment_environment="prod"}}',
                    f"1x{hold + 20}",
                ),
            ),
            f"{hold}m",
        ),
        AlertTest(
            "blip: no requests yet for the first 10m after a restart",
            (up, Series(req, "_x9 0+60x50")),
            "40m",
            silent_at=every_minute(40),
        ),
    )


def _minutes(duration: str) -> int:
    return parse_duration(duration) // 60


def service_alerts(platform: Platform, env: Environment, service: Service) -> list[Alert]:
    """Every alert of this module about ``service``, as the model tunes them in ``env``."""
    found = (
        service_down_alert(platform, env, service),
        latency_alert(platform, service, env),
        instrumentation_alert(platform, service, env),
    )
    return [a for a in found if a is not None]


# --- the hold ---------------------------------------------------------------------------------


def causes(platform: Platform, component: Service | Dependency) -> tuple[str, ...]:
    """The alerts saying ``component`` is down (the sources that inhibit its dependants' symptoms)."""
    if isinstance(component, Service):
        return (SERVICE_DOWN,) if component.kind.instrumented else ("ProbeFailing",)
    return CAUSE_ALERTS[component.kind.value]


def upstream_components(platform: Platform) -> list[Service | Dependency]:
    """Every component some instrumented service depends on (directly or through services)."""
    needed: set[str] = set()
    services = {s.name: s for s in platform.services}
    for service in platform.instrumented_services:
        pending = list(service.depends_on)
        while pending:
            name = pending.pop(0)
            if name in needed or name == service.name:
                continue
            needed.add(name)
            if name in services:
                pending.extend(services[name].depends_on)
    return [c for c in platform.components() if c.name in needed]


def recent_outage_alert(platform: Platform, env: Environment, component: Service | Dependency) -> Alert | None:
    """``RecentOutage`` of ``component``: firing while one of its cause alerts fired within
    :data:`OUTAGE_HOLD` (read from Prometheus' own ``ALERTS`` series). Severity info: it notifies
    nobody, it only inhibits the dependants' symptoms until their windows no longer hold the
    outage."""
    tuning = tuning_for(platform, env, component.name, RECENT_OUTAGE)
    if tuning.enabled is False:
        return None
    names = causes(platform, component)
    matcher = f'alertname="{names[0]}"' if len(names) == 1 else f'alertname=~"{"|".join(names)}"'
    selector = f'ALERTS{{{matcher}, alertstate="firing", {SVC}="{component.name}"}}'
    hold = OUTAGE_HOLD
    alert = component_alert(
        platform,
        name=RECENT_OUTAGE,
        expr=f"max by ({SVC}) (max_over_time({selector}[{hold}]))",
        severity=Severity.INFO,
        service=component.name,
        team=component.team,
        summary=f"{component.name} was down within the last {hold}: the symptoms of the services that depend on it are held back",
        description=(
            f"{' or '.join(names)} of {component.name} fired within the last {hold}. Until it has been quiet that long, "
            f"the error and latency alerts of the services that depend on {component.name} are inhibited: their windows "
            "still hold the outage, and they would only reach their teams after the fix."
        ),
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.FIRING,
        runbook_base=component_runbook_base(platform, component),
        for_="0s",
    )
    series = f'ALERTS{{alertname="{names[0]}", alertstate="firing", {SVC}="{component.name}", {TEAM}="{component.team}", severity="page"}}'
    return alert.with_tests(
        AlertTest(f"{names[0]} fired for 10m and cleared 30m ago", (Series(series, "1x10 _x30"),), "40m", fires=(Fires(value=1),)),
        AlertTest(f"{names[0]} cleared {hold} ago", (Series(series, "1x10 _x40"),), "50m"),
        AlertTest("no outage", (), "30m"),
    )


def recent_outage_alerts(platform: Platform, env: Environment) -> list[Alert]:
    """One ``RecentOutage`` per component that some instrumented service depends on."""
    found = (recent_outage_alert(platform, env, c) for c in upstream_components(platform))
    return [a for a in found if a is not None]


def dependants(platform: Platform, component: str) -> Sequence[Service]:
    """The instrumented services that depend on ``component``, directly or through services."""
    out = []
    services = {s.name: s for s in platform.services}
    for service in platform.instrumented_services:
        pending, seen = list(service.depends_on), set()
        while pending:
            name = pending.pop(0)
            if name in seen or name == service.name:
                continue
            seen.add(name)
            if name == component:
                out.append(service)
                break
            if name in services:
                pending.extend(services[name].depends_on)
    return out


__all__ = [
    "ALERTS",
    "HIGH_LATENCY_DEFAULT_SECONDS",
    "OUTAGE_HOLD",
    "SERVICE_DOWN",
    "TIER_SEVERITY",
    "causes",
    "dependants",
    "instrumentation_alert",
    "latency_alert",
    "recent_outage_alert",
    "recent_outage_alerts",
    "service_alerts",
    "service_down_alert",
    "upstream_components",
]
