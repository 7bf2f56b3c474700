"""Blackbox probes of the services users reach from outside: failing probes, expiring certificates.

| alert | severity | for | threshold (unit) | default |
|---|---|---|---|---|
| ``ProbeFailing`` | page (tier 1), ticket | 3m | — | |
| ``TLSCertificateExpiring`` | ticket | 15m | days until the certificate expires (below) | 14 |

A model may retune them per probed service or HTTP dependency, or per environment
(:mod:`obs.model.tuning`); the tests are built from the tuned values."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, Fires, Severity
from obs.catalogue.alerts._common import SVC, TEAM, Threshold, component_alert_of, tuned
from obs.catalogue.alerts.targets import Job
from obs.model import Dependency, DependencyKind, Environment, Platform, Service
from obs.rules.testgen import Signal, case_eval_minute, num, threshold_cases

TLS_EXPIRY_DAYS = 14  # two weeks: enough for a manual renewal when automation failed

ALERTS: dict[str, Threshold | None] = {
    "ProbeFailing": None,
    "TLSCertificateExpiring": Threshold(TLS_EXPIRY_DAYS, "days"),
}


def probe_alerts(platform: Platform, env: Environment, job: Job) -> list[Alert]:
    alerts: list[Alert] = []
    targets: list[tuple[Service | Dependency, str]] = [
        (s, platform.probe_url(s, env)) for s in platform.probed_services
    ]
    targets += [(d, d.address) for d in platform.dependencies if d.kind is DependencyKind.HTTP]
    for comp, url in targets:
        sel = f'job="{job.name}", {SVC}="{comp.name}"'
        lab = f'{sel}, instance="{url}", {TEAM}="{comp.team}"'
        tier1 = isinstance(comp, Service) and comp.tier == 1
        failing = tuned(platform, env, comp.name, "ProbeFailing", Severity.PAGE if tier1 else Severity.TICKET, "3m")
        if failing is not None:
            alert = component_alert_of(
                platform,
                comp,
                "ProbeFailing",
                expr=f"probe_success{{{sel}}} == 0",
                severity=failing.severity,
                summary=f"{comp.name} does not answer at {{{{$labels.instance}}}}",
                description=f"The blackbox probe of {comp.name} ({{{{$labels.instance}}}}) has failed for {failing.for_}: users cannot reach it.",
                dashboard_uid=links.BLACKBOX_UID,
                panel=links.BlackboxPanel.PROBE_SUCCESS,
                for_=failing.for_,
                variables={SVC: comp.name},
            )
            alerts.append(
                alert.with_tests(
                    *threshold_cases(
                        [Signal(f"probe_success{{{lab}}}", 1, 0)],
                        alert.for_,
                        Fires(value=0, labels={"job": job.name, "instance": url}),
                    )
                )
            )
        tls = tuned(platform, env, comp.name, "TLSCertificateExpiring", Severity.TICKET, "15m", ALERTS["TLSCertificateExpiring"])
        if tls is None or not url.startswith("https://"):
            continue  # no certificate to expire (the dev environment probes plain HTTP)
        days = tls.threshold
        alert = component_alert_of(
            platform,
            comp,
            "TLSCertificateExpiring",
            expr=f"probe_ssl_earliest_cert_expiry{{{sel}}} - time() < {num(days * 86400)}",
            severity=tls.severity,
            summary=f"The TLS certificate of {comp.name} expires in {{{{ $value | humanizeDuration }}}}",
            description=f"The certificate served at {{{{$labels.instance}}}} expires in {{{{ $value | humanizeDuration }}}} (under {num(days)} days): automatic renewal has failed.",
            dashboard_uid=links.BLACKBOX_UID,
            panel=links.BlackboxPanel.TLS_EXPIRY,
            for_=tls.for_,
            variables={SVC: comp.name},
        )
        eval_s = case_eval_minute(alert.for_) * 60
        # Expiry is an absolute time: the bad value is half the threshold after the evaluation
        # time (a week, by default), the good one three months or twice the threshold.
        bad = days * 86400 / 2
        signal = Signal(f"probe_ssl_earliest_cert_expiry{{{lab}}}", eval_s + max(90 * 86400, 4 * bad), eval_s + bad)
        alerts.append(
            alert.with_tests(
                *threshold_cases([signal], alert.for_, Fires(value=bad, labels={"job": job.name, "instance": url}))
            )
        )
    return alerts


__all__ = ["TLS_EXPIRY_DAYS", "probe_alerts"]
