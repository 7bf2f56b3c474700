"""Alerts about scrape targets: a target down, a job gone from the configuration."""

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
from obs.catalogue.alerts._common import SVC, TEAM
from obs.model import Environment, Platform
from obs.rules.testgen import Signal, every_minute, threshold_cases


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    service: str
    team: str
    instance: str
    runbook_base: str


def scrape_jobs(platform: Platform, env: Environment) -> list[Job]:
    """The jobs of the Prometheus configuration (:mod:`obs.scrape`), with the service and team its targets
    carry, so the alerts follow any change there."""
    components = {c.name: c for c in platform.components()}
    jobs: list[Job] = []
    for job in scrape.scrape_jobs(platform, env):
        configs = job["static_configs"]
        services = {c["labels"][SVC] for c in configs}
        name = job["job_name"]
        if len(services) == 1:
            service, team = configs[0]["labels"][SVC], configs[0]["labels"][TEAM]
        else:
            # One job for many targets (the blackbox probes): the job itself belongs to the infra team.
            service, team = name, platform.infra_team
        comp = components.get(service)
        base = component_runbook_base(platform, comp) if comp else platform_runbook_base(platform, service)
        jobs.append(Job(name, service, team, configs[0]["targets"][0], base))
    return jobs


def _up_labels(job: Job) -> str:
    return f'job="{job.name}", instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'


def target_alerts(platform: Platform, job: Job, jobs: Sequence[Job]) -> list[Alert]:
    up_labels = _up_labels(job)
    down = component_alert(
        platform,
        name="TargetDown",
        expr=f'up{{job="{job.name}"}} == 0',
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary=f"{job.name} target {{{{$labels.instance}}}} is down",
        description=f"Prometheus could not scrape {{{{$labels.instance}}}} of job {job.name} for 5m: its alerts are blind and it may be down.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_DOWN,
        runbook_base=job.runbook_base,
    ).with_tests(
        *threshold_cases(
            [Signal(f"up{{{up_labels}}}", 1, 0)],
            "5m",
            Fires(value=0, labels={"job": job.name, "instance": job.instance}),
        )
    )
    absent = component_alert(
        platform,
        name="MetricsAbsent",
        expr=f'absent(up{{job="{job.name}"}})',
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary=f"Prometheus has no target for job {job.name}",
        description=f"No up series for job {job.name} for 10m: the target left service discovery or the scrape configuration, so nothing watches it.",
        dashboard_uid=links.ALERTS_UID,
        panel=links.AlertsPanel.TARGETS_PER_JOB,
        runbook_base=job.runbook_base,
        for_="10m",
    )
    # Every other job is scraped, or its own MetricsAbsent would fire in this test too.
    others = tuple(Series(f"up{{{_up_labels(j)}}}", "1x30") for j in jobs if j.name != job.name)
    present = f"up{{{up_labels}}}"
    absent = absent.with_tests(
        AlertTest("no up series for 20m", others, "20m", fires=(Fires(value=1, labels={"job": job.name}),)),
        AlertTest("healthy: the target is scraped", (*others, Series(present, "1x30")), "20m"),
        AlertTest(
            "blip: missing for the first 5m after a reload",
            (*others, Series(present, "_x4 1x25")),
            "20m",
            silent_at=every_minute(20),
        ),
    )
    return [down, absent]


__all__ = ["Job", "scrape_jobs", "target_alerts"]
