"""Alerts about scrape targets: a target down, a job gone from the configuration.

| alert | severity | for | threshold |
|---|---|---|---|
| ``TargetDown`` | ticket | 5m | — |
| ``MetricsAbsent`` | ticket | 10m | — |

Every job gets both. The cases of one alert are the same for every job (same times), so the test
file runs each case once with every job's series side by side (:mod:`obs.rules.rulefile`); a
``MetricsAbsent`` case therefore never lists the other jobs' series, only its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obs import links, scrape
from obs.alerting import (
    Alert,
    AlertTest,
    Fires,
    Series,
    Severity,
    component_alert,
    component_runbook_base,
    platform_runbook_base,
)
from obs.catalogue.alerts._common import SVC, TEAM, Threshold, Tuned, tuned
from obs.model import Environment, Platform, parse_duration
from obs.rules.testgen import Signal, duration_minutes, every_minute, threshold_cases

TARGET_DOWN = "TargetDown"
METRICS_ABSENT = "MetricsAbsent"
#: The alerts of this table and their tunable threshold (none here).
ALERTS: dict[str, Threshold | None] = {TARGET_DOWN: None, METRICS_ABSENT: None}


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    service: str
    team: str
    instance: str
    runbook_base: str
    kind: scrape.JobKind = "service"


def scrape_jobs(platform: Platform, env: Environment) -> list[Job]:
    """The jobs Prometheus will have in ``env`` (:func:`obs.scrape.monitored_jobs`, whatever
    configures the scrape), with the service and team its targets carry."""
    components = {c.name: c for c in platform.components()}
    jobs: list[Job] = []
    for job in scrape.monitored_jobs(platform, env):
        comp = components.get(job.service)
        base = component_runbook_base(platform, comp) if comp else platform_runbook_base(platform, job.service)
        jobs.append(Job(job.name, job.service, job.team, job.instance, base, job.kind))
    return jobs


def _up_labels(job: Job) -> str:
    return f'job="{job.name}", instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'


def target_down_alert(platform: Platform, job: Job, settings: Tuned) -> Alert:
    down = component_alert(
        platform,
        name=TARGET_DOWN,
        expr=f'up{{job="{job.name}"}} == 0',
        severity=settings.severity,
        service=job.service,
        team=job.team,
        summary=f"{job.name} target {{{{$labels.instance}}}} is down",
        description=f"Prometheus could not scrape {{{{$labels.instance}}}} of job {job.name} for {settings.for_}: its alerts are blind and it may be down.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_DOWN,
        runbook_base=job.runbook_base,
        for_=settings.for_,
    )
    return down.with_tests(
        *threshold_cases(
            [Signal(f"up{{{_up_labels(job)}}}", 1, 0)],
            down.for_,
            Fires(value=0, labels={"job": job.name, "instance": job.instance}),
        )
    )


def absent_horizon(fors: Sequence[str]) -> int:
    """The minute every ``MetricsAbsent`` case is evaluated at: after the longest ``for`` (the
    cases of every job must share their times, since they run side by side)."""
    return max([20, *(duration_minutes(f) + 10 for f in fors)])


def metrics_absent_alert(platform: Platform, job: Job, settings: Tuned, horizon: int) -> Alert:
    absent = component_alert(
        platform,
        name=METRICS_ABSENT,
        expr=f'absent(up{{job="{job.name}"}})',
        severity=settings.severity,
        service=job.service,
        team=job.team,
        summary=f"Prometheus has no target for job {job.name}",
        description=f"No up series for job {job.name} for {settings.for_}: the target left service discovery or the scrape configuration, so nothing watches it.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_PER_JOB,
        runbook_base=job.runbook_base,
        for_=settings.for_,
    )
    present = f"up{{{_up_labels(job)}}}"
    length = horizon + 10
    # Missing for the first minutes after a reload, shorter than `for` (with a `for` of 0s there is
    # no blip to ignore: the series is there all along, and the case keeps its place beside the others').
    blanks = max(1, duration_minutes(settings.for_) // 2 - 1) if parse_duration(settings.for_) else 0
    blip = f"_x{blanks} 1x{length - blanks - 1}" if blanks else f"1x{length}"
    return absent.with_tests(
        AlertTest(f"no up series for {horizon}m", (), f"{horizon}m", fires=(Fires(value=1, labels={"job": job.name}),)),
        AlertTest("healthy: the target is scraped", (Series(present, f"1x{length}"),), f"{horizon}m"),
        AlertTest("blip: missing for a while after a reload, shorter than for", (Series(present, blip),), f"{horizon}m", silent_at=every_minute(horizon)),
    )


def target_alerts(platform: Platform, env: Environment, jobs: Sequence[Job]) -> list[Alert]:
    """``TargetDown`` and ``MetricsAbsent`` of every job, as the model tunes them in ``env``."""
    settings = [
        (
            job,
            tuned(platform, env, job.service, TARGET_DOWN, Severity.TICKET, "5m"),
            tuned(platform, env, job.service, METRICS_ABSENT, Severity.TICKET, "10m"),
        )
        for job in jobs
    ]
    horizon = absent_horizon([a.for_ for _, _, a in settings if a is not None])
    alerts: list[Alert] = []
    for job, down, absent in settings:
        if down is not None:
            alerts.append(target_down_alert(platform, job, down))
        if absent is not None:
            alerts.append(metrics_absent_alert(platform, job, absent, horizon))
    return alerts


__all__ = ["ALERTS", "METRICS_ABSENT", "TARGET_DOWN", "Job", "absent_horizon", "metrics_absent_alert", "scrape_jobs", "target_alerts", "target_down_alert"]
