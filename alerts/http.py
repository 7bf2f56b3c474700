"""HighErrorRate: the share of a service's requests answered with a 5xx, over five minutes.

The SLO's burn-rate alert says the budget is going; this one says, in plain numbers, how many
requests fail right now. It pages only for a tier-1 service that has no availability SLO to page
for it; otherwise it is a ticket that a PostgresDown or RedisDown page inhibits when the service
depends on them (see docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from obs import contract, links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, service_alert
from obs.model import AvailabilitySLI, Platform, Service

#: 5% of requests failing: well above any SLO's budget, and above the noise of a deploy.
THRESHOLD = 0.05
#: Below one request every ten seconds, a couple of failures would make the ratio meaningless.
MIN_REQUEST_RATE = 0.1

#: The request counter: the only series with the response status.
COUNT = contract.HTTP_SERVER_REQUESTS.name
STATUS = contract.STATUS_LABEL


def _severity(service: Service) -> Severity:
    has_availability_slo = any(isinstance(s.sli, AvailabilitySLI) for s in service.slos)
    return Severity.PAGE if service.tier == 1 and not has_availability_slo else Severity.TICKET


def _series(service: Service, ok_per_min: str, err_per_min: str) -> tuple[Series, ...]:
    labels = f'service="{service.name}", job="{service.name}", http_request_method="GET", http_route="/api/courses"'
    return (
        Series(f'{COUNT}{{{labels}, {STATUS}="200"}}', ok_per_min),
        Series(f'{COUNT}{{{labels}, {STATUS}="503"}}', err_per_min),
    )


def high_error_rate(platform: Platform, service: Service) -> Alert:
    sel = f'service="{service.name}"'
    return service_alert(
        platform,
        service,
        name="HighErrorRate",
        expr=(
            f'sum(rate({COUNT}{{{sel}, {STATUS}=~"5.."}}[5m])) / sum(rate({COUNT}{{{sel}}}[5m])) > {THRESHOLD}\n'
            f"and sum(rate({COUNT}{{{sel}}}[5m])) >= {MIN_REQUEST_RATE}"
        ),
        severity=_severity(service),
        summary=f"{service.name} answers {{{{ $value | humanizePercentage }}}} of requests with a server error",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of {service.name} requests failed with a 5xx over the last 5m "
            f"(threshold {THRESHOLD:.0%}), for 5m. The errors-by-status panel shows which routes."
        ),
        panel=links.ServicePanel.ERROR_RATIO,
        for_="5m",
        tests=(
            # 600 requests a minute, 60 of them 503: exactly 10% from the first minute on.
            AlertTest(
                "10% errors for 15m",
                _series(service, "0+540x15", "0+60x15"),
                "15m",
                fires=(Fires(value=0.1),),
            ),
            AlertTest("healthy: 1% errors", _series(service, "0+594x15", "0+6x15"), "15m"),
            AlertTest(
                "low traffic: 1 request in 2 fails, 1 request a minute",
                _series(service, "0+0.5x15", "0+0.5x15"),
                "15m",
            ),
            # 3 bad minutes keep the 5m ratio above 5% for about 8m; for: 5m is counted from the
            # first bad evaluation, so the blip must end early enough: 1 bad minute.
            AlertTest(
                "blip: one bad minute, then healthy",
                _series(service, "0+594x4 2970+594x10", "0+120x1 126+6x13"),
                "15m",
                silent_at=tuple(f"{m}m" for m in range(15)),
            ),
        ),
    )


def alerts(platform: Platform) -> Iterator[Alert]:
    for service in platform.instrumented_services:
        yield high_error_rate(platform, service)
