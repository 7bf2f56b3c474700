"""Alerts about every instrumented service beside its SLOs: p99 latency and missing instrumentation."""

from __future__ import annotations

from obs import contract, links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, service_alert
from obs.catalogue.alerts._common import BUCKET, COUNT, DURATION, ROUTE, STATUS, SVC, TEAM
from obs.catalogue.alerts.slo import slo_matchers
from obs.model import SLO, LatencySLI, Platform, Service
from obs.rules.testgen import Signal, every_minute, num, threshold_cases

#: Symptom thresholds that are policy, not model data; each has its reason.
HIGH_LATENCY_DEFAULT_SECONDS = 1.0  # p99 for services with no latency SLO: a page load that feels broken


def _latency_slo(service: Service) -> SLO | None:
    """The latency SLO whose threshold the p99 alert uses: the loosest, if there are several."""
    slos = [s for s in service.slos if isinstance(s.sli, LatencySLI)]
    return max(slos, key=lambda s: s.sli.threshold_seconds) if slos else None  # type: ignore[union-attr]


def _bucket_above(threshold: float) -> tuple[float, float]:
    """The histogram bucket (lower, upper] just above ``threshold``, to build slow requests."""
    bounds = list(contract.HTTP_DURATION_BUCKETS)
    i = (
        bounds.index(threshold)
        if threshold in bounds
        else max(0, len([b for b in bounds if b < threshold]) - 1)
    )
    return bounds[i + 1], bounds[i + 2]


def latency_alert(platform: Platform, service: Service) -> Alert:
    slo = _latency_slo(service)
    threshold = float(slo.sli.threshold_seconds) if slo is not None else HIGH_LATENCY_DEFAULT_SECONDS  # type: ignore[union-attr]
    name = "LatencyP99High"
    # The routes the latency SLO leaves out (a report export, slow by design) are left out here
    # too: otherwise they raise this ticket while the SLO they were excluded from is healthy.
    selector = slo_matchers(service, slo) if slo is not None else f'{{{SVC}="{service.name}"}}'
    expr = f"histogram_quantile(0.99, sum by (le) (rate({BUCKET}{selector}[5m]))) > {num(threshold)}"
    base = f'{SVC}="{service.name}", job="{service.name}", {STATUS}="200"'
    lower, upper = _bucket_above(threshold)
    fast_le = contract.HTTP_DURATION_BUCKETS[0]
    per_minute = 600.0
    # Slow minutes put every request in (lower, upper]; fast ones in the first bucket.
    signals = [
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(fast_le)}"}}', per_minute, 0.0, counter=True),
        Signal(f'{BUCKET}{{{base}, le="{contract.format_bucket(lower)}"}}', per_minute, 0.0, counter=True),
        Signal(
            f'{BUCKET}{{{base}, le="{contract.format_bucket(upper)}"}}', per_minute, per_minute, counter=True
        ),
        Signal(f'{BUCKET}{{{base}, le="+Inf"}}', per_minute, per_minute, counter=True),
    ]
    p99 = lower + (upper - lower) * 0.99
    alert = service_alert(
        platform,
        service,
        name=name,
        expr=expr,
        severity=Severity.TICKET,
        summary=f"{service.name} p99 latency is {{{{ $value | humanizeDuration }}}}",
        description=(
            f"99% of {service.name} requests over the last 5m finished within {{{{ $value | humanizeDuration }}}}, "
            f"above {threshold:g}s for 10m. Check the slowest routes panel and the traces of slow requests."
        ),
        panel=links.ServicePanel.LATENCY_PERCENTILES,
        for_="10m",
    )
    cases = list(threshold_cases(signals, alert.for_, Fires(value=p99), window_minutes=5))
    if slo is not None and slo.exclude_routes:
        # Half the requests slow, all on the excluded route: p99 over everything would fire.
        minutes = 40
        slow, fast = f'{base}, {ROUTE}="{slo.exclude_routes[0]}"', f'{base}, {ROUTE}="/slo-probe"'
        steady, idle = f"0+{num(per_minute)}x{minutes}", f"0x{minutes}"
        bounds = [contract.format_bucket(b) for b in (fast_le, lower, upper)] + ["+Inf"]
        cases.append(
            AlertTest(
                "healthy: the slow requests are on a route the latency SLO leaves out",
                tuple(
                    Series(f'{BUCKET}{{{labels}, le="{le}"}}', values)
                    for le, slow_values in zip(bounds, (idle, idle, steady, steady), strict=True)
                    for labels, values in ((fast, steady), (slow, slow_values))
                ),
                f"{minutes}m",
            )
        )
    return alert.with_tests(*cases)


def instrumentation_alert(platform: Platform, service: Service) -> Alert:
    name = "InstrumentationMissing"
    # target_info is exported from instrument() on, before any request: an idle service (a quiet
    # night, a bridge nobody called since its restart) has it and no request series yet.
    info = contract.TARGET_INFO.name
    expr = (
        f'up{{job="{service.name}"}} == 1\nunless on (job, instance) group by (job, instance) '
        f'({COUNT}{{job="{service.name}"}} or {info}{{job="{service.name}"}})'
    )
    instance = f"{service.name}:{service.port}"
    up = Series(
        f'up{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {TEAM}="{service.team}"}}',
        "1x60",
    )
    alert = service_alert(
        platform,
        service,
        name=name,
        expr=expr,
        severity=Severity.TICKET,
        summary=f"{service.name} on {{{{$labels.instance}}}} is up but exports no HTTP metrics",
        description=(
            f"Prometheus scrapes {{{{$labels.instance}}}} but finds neither {info} nor {DURATION} series: the obs instrumentation "
            f'is not installed or not reached, so the SLOs of {service.name} are blind. Call instrumentation.instrument(app, service_name="{service.name}").'
        ),
        panel=links.ServicePanel.TARGET_UP,
        for_="30m",
    )
    req = f'{COUNT}{{job="{service.name}", instance="{instance}", {SVC}="{service.name}", {STATUS}="200"}}'
    return alert.with_tests(
        AlertTest(
            "up without HTTP metrics for 40m",
            (up,),
            "40m",
            fires=(Fires(value=1, labels={"job": service.name, "instance": instance}),),
        ),
        AlertTest("healthy: up and counting requests", (up, Series(req, "0+60x60")), "40m"),
        AlertTest(
            "healthy: instrumented, idle since its start (no request series yet)",
            (
                up,
                Series(
                    f'{info}{{job="{service.name}", instance="{instance}", service_name="{service.name}", '
                    f'service_version="1.0.0", deployment_environment="prod"}}',
                    "1x60",
                ),
            ),
            "40m",
        ),
        AlertTest(
            "blip: no requests yet for the first 10m after a restart",
            (up, Series(req, "_x9 0+60x50")),
            "40m",
            silent_at=every_minute(40),
        ),
    )


__all__ = ["HIGH_LATENCY_DEFAULT_SECONDS", "instrumentation_alert", "latency_alert"]
