"""Hosts (through node_exporter): a filesystem filling up, memory pressure.

| alert | severity | for | threshold (unit) | default |
|---|---|---|---|---|
| ``NodeFilesystemFillingUp`` | page | 15m | share of the filesystem still free (0-1, below) | 0.15 |
| ``NodeMemoryPressure`` | ticket | 15m | share of memory available (0-1, below) | 0.1 |

Thresholds are at the top, each with its reason; a model may retune them per environment
(:mod:`obs.model.tuning`: the hosts are no component of the model), and the tests are built from
the tuned values."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, component_alert
from obs.catalogue.alerts._common import SVC, TEAM, Threshold, Tuned, percent, tuned
from obs.catalogue.alerts.targets import Job
from obs.model import Environment, Platform
from obs.rules.testgen import TEST_MINUTES_MARGIN, Signal, compress, duration_minutes, num, threshold_cases

FILESYSTEM_HORIZON_HOURS = 4  # predicted full within 4h: page, someone must act before it is full


#: ...and less than this fraction free already (node-mixin's critical rule): a large one-off write
#: on a mostly empty disk extrapolates to "full" too, and must not wake anyone.
FILESYSTEM_FREE_RATIO = 0.15
MEMORY_AVAILABLE_RATIO = 0.1  # below 10% available the kernel starts reclaiming hard / OOM-killing

ALERTS: dict[str, Threshold | None] = {
    "NodeFilesystemFillingUp": Threshold(FILESYSTEM_FREE_RATIO, "share of the filesystem free (0-1)", 0, 1),
    "NodeMemoryPressure": Threshold(MEMORY_AVAILABLE_RATIO, "share of memory available (0-1)", 0, 1),
}


def node_alerts(platform: Platform, env: Environment, job: Job) -> list[Alert]:
    alerts: list[Alert] = []
    settings = tuned(platform, env, job.service, "NodeFilesystemFillingUp", Severity.PAGE, "15m", ALERTS["NodeFilesystemFillingUp"])
    if settings is not None:
        alerts.append(filesystem_alert(platform, job, settings))
    settings = tuned(platform, env, job.service, "NodeMemoryPressure", Severity.TICKET, "15m", ALERTS["NodeMemoryPressure"])
    if settings is not None:
        alerts.append(memory_alert(platform, job, settings))
    return alerts


def filesystem_alert(platform: Platform, job: Job, settings: Tuned) -> Alert:
    sel = f'job="{job.name}"'
    lab = f'{sel}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'
    fs = f'{lab}, device="/dev/sda1", fstype="ext4", mountpoint="/"'
    gib = 1024.0**3
    horizon = FILESYSTEM_HORIZON_HOURS * 3600
    real_fs = 'fstype!~"tmpfs|overlay|squashfs"'
    free_ratio = settings.threshold
    filling = component_alert(
        platform,
        name="NodeFilesystemFillingUp",
        expr=(
            f"predict_linear(node_filesystem_avail_bytes{{{sel}, {real_fs}}}[1h], {horizon}) < 0\n"
            f"and on (instance, device, mountpoint) node_filesystem_avail_bytes{{{sel}, {real_fs}}}"
            f" / node_filesystem_size_bytes{{{sel}, {real_fs}}} < {num(free_ratio)}\n"
            f"and on (instance, device, mountpoint) node_filesystem_readonly{{{sel}}} == 0"
        ),
        severity=settings.severity,
        service=job.service,
        team=job.team,
        summary="{{$labels.mountpoint}} on {{$labels.instance}} fills up within "
        + f"{FILESYSTEM_HORIZON_HOURS}h",
        description=(
            f"At the rate of the last hour, {{{{$labels.mountpoint}}}} ({{{{$labels.device}}}}) on {{{{$labels.instance}}}} "
            f"is full within {FILESYSTEM_HORIZON_HOURS}h (predicted {{{{ $value | humanize1024 }}}}B free then), with less than "
            f"{percent(free_ratio)} free already. Databases and logs stop writing when it is full."
        ),
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.FILESYSTEM,
        runbook_base=job.runbook_base,
        for_=settings.for_,
        variables={"instance": "{{$labels.instance}}"},
    )
    # 1 GiB per minute down from 100 GiB: predict_linear over 4h is exact for a straight line.
    hold = duration_minutes(settings.for_)
    minutes = hold + 60 + 2 * TEST_MINUTES_MARGIN
    avail_bad = [100 * gib - i * gib for i in range(minutes + 1)]
    predicted = avail_bad[minutes] - 240 * gib
    ro = Series(f"node_filesystem_readonly{{{fs}}}", f"0x{minutes}")
    # 1 TiB at the default threshold: 100 GiB free is then well under it; the size scales with a
    # tuned threshold so that the free share stays the same fraction of it.
    size = Series(f"node_filesystem_size_bytes{{{fs}}}", f"{num(1024 * gib * (FILESYSTEM_FREE_RATIO / free_ratio))}x{minutes}")
    fire_labels = {
        "job": job.name,
        "instance": job.instance,
        "device": "/dev/sda1",
        "fstype": "ext4",
        "mountpoint": "/",
    }
    # A burst shorter than `for`, which it must outlast.
    burst = max(1, min(10, hold - 5))
    return filling.with_tests(
        AlertTest(
            "losing 1GiB a minute from 100GiB of 1TiB",
            (Series(f"node_filesystem_avail_bytes{{{fs}}}", compress(avail_bad)), size, ro),
            f"{minutes}m",
            fires=(Fires(value=predicted, labels=fire_labels),),
        ),
        AlertTest(
            "healthy: steady free space",
            (Series(f"node_filesystem_avail_bytes{{{fs}}}", f"{num(100 * gib)}x{minutes}"), size, ro),
            f"{minutes}m",
        ),
        AlertTest(
            "healthy: a big write (3GiB a minute) on a disk still more than 15% free",
            (
                Series(
                    f"node_filesystem_avail_bytes{{{fs}}}",
                    compress([600 * gib - i * 3 * gib for i in range(minutes + 1)]),
                ),
                size,
                ro,
            ),
            f"{minutes}m",
        ),
        AlertTest(
            f"blip: a {burst}m burst of writes, then steady",
            (
                Series(
                    f"node_filesystem_avail_bytes{{{fs}}}",
                    compress(
                        [100 * gib] * 60
                        + [100 * gib - i * 3 * gib for i in range(1, burst + 1)]
                        + [(100 - 3 * burst) * gib] * (minutes - 59 - burst)
                    ),
                ),
                size,
                ro,
            ),
            f"{minutes}m",
        ),
    )


def memory_alert(platform: Platform, job: Job, settings: Tuned) -> Alert:
    sel = f'job="{job.name}"'
    lab = f'{sel}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'
    gib = 1024.0**3
    available = settings.threshold
    memory = component_alert(
        platform,
        name="NodeMemoryPressure",
        expr=f"node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}} < {num(available)}",
        severity=settings.severity,
        service=job.service,
        team=job.team,
        summary="{{$labels.instance}} has only {{ $value | humanizePercentage }} of its memory available",
        description=f"Available memory on {{{{$labels.instance}}}} has been {{{{ $value | humanizePercentage }}}} for {settings.for_} (threshold {percent(available)}): the OOM killer is next.",
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.MEMORY,
        runbook_base=job.runbook_base,
        for_=settings.for_,
        variables={"instance": "{{$labels.instance}}"},
    )
    # Of 16 GiB: half available when healthy (or half-way up from the threshold); half the
    # threshold when not.
    total = 16 * gib
    good, bad = (0.5 if available < 0.5 else (1 + available) / 2), available / 2
    return memory.with_tests(
        *threshold_cases(
            [Signal(f"node_memory_MemAvailable_bytes{{{lab}}}", good * total, bad * total)],
            memory.for_,
            Fires(
                value=bad,
                labels={"job": job.name, "instance": job.instance, SVC: job.service, TEAM: job.team},
            ),
            extra=[Series(f"node_memory_MemTotal_bytes{{{lab}}}", f"{num(total)}x60")],
        )
    )


__all__ = ["ALERTS", "FILESYSTEM_FREE_RATIO", "FILESYSTEM_HORIZON_HOURS", "MEMORY_AVAILABLE_RATIO", "filesystem_alert", "memory_alert", "node_alerts"]
