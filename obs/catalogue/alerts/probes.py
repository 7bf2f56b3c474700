"""Blackbox probes of the services users reach from outside: failing probes, expiring certificates."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, Fires, Severity
from obs.catalogue.alerts._common import SVC, TEAM, component_alert_of
from obs.catalogue.alerts.targets import Job
from obs.model import Dependency, DependencyKind, Environment, Platform, Service
from obs.rules.testgen import Signal, case_eval_minute, threshold_cases

TLS_EXPIRY_DAYS = 14  # two weeks: enough for a manual renewal when automation failed


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
        failing = component_alert_of(
            platform,
            comp,
            "ProbeFailing",
            expr=f"probe_success{{{sel}}} == 0",
            severity=Severity.PAGE if tier1 else Severity.TICKET,
            summary=f"{comp.name} does not answer at {{{{$labels.instance}}}}",
            description=f"The blackbox probe of {comp.name} ({{{{$labels.instance}}}}) has failed for 3m: users cannot reach it.",
            dashboard_uid=links.BLACKBOX_UID,
            panel=links.BlackboxPanel.PROBE_SUCCESS,
            for_="3m",
            variables={SVC: comp.name},
        )
        alerts.append(
            failing.with_tests(
                *threshold_cases(
                    [Signal(f"probe_success{{{lab}}}", 1, 0)],
                    failing.for_,
                    Fires(value=0, labels={"job": job.name, "instance": url}),
                )
            )
        )
        if not url.startswith("https://"):
            continue  # no certificate to expire (the dev environment probes plain HTTP)
        horizon = TLS_EXPIRY_DAYS * 86400
        tls = component_alert_of(
            platform,
            comp,
            "TLSCertificateExpiring",
            expr=f"probe_ssl_earliest_cert_expiry{{{sel}}} - time() < {horizon}",
            severity=Severity.TICKET,
            summary=f"The TLS certificate of {comp.name} expires in {{{{ $value | humanizeDuration }}}}",
            description=f"The certificate served at {{{{$labels.instance}}}} expires in {{{{ $value | humanizeDuration }}}} (under {TLS_EXPIRY_DAYS} days): automatic renewal has failed.",
            dashboard_uid=links.BLACKBOX_UID,
            panel=links.BlackboxPanel.TLS_EXPIRY,
            for_="15m",
            variables={SVC: comp.name},
        )
        eval_s = case_eval_minute(tls.for_) * 60
        week = 7 * 86400
        # Expiry is an absolute time: the bad value is 7 days after the evaluation time.
        signal = Signal(f"probe_ssl_earliest_cert_expiry{{{lab}}}", eval_s + 90 * 86400, eval_s + week)
        tls = tls.with_tests(
            *threshold_cases([signal], tls.for_, Fires(value=week, labels={"job": job.name, "instance": url}))
        )
        alerts.append(tls)
    return alerts


__all__ = ["TLS_EXPIRY_DAYS", "probe_alerts"]
