"""Hosts (through node_exporter): a filesystem filling up, memory pressure.

Thresholds are at the top, each with its reason."""

from __future__ import annotations

from obs import links
from obs.alerting import Alert, AlertTest, Fires, Series, Severity, component_alert
from obs.catalogue.alerts._common import SVC, TEAM
from obs.catalogue.alerts.targets import Job
from obs.model import Platform
from obs.rules.testgen import TEST_MINUTES_MARGIN, Signal, compress, num, threshold_cases

FILESYSTEM_HORIZON_HOURS = 4  # predicted full within 4h: page, someone must act before it is full


#: ...and less than this fraction free already (node-mixin's critical rule): a large one-off write
#: on a mostly empty disk extrapolates to "full" too, and must not wake anyone.
FILESYSTEM_FREE_RATIO = 0.15
MEMORY_AVAILABLE_RATIO = 0.1  # below 10% available the kernel starts reclaiming hard / OOM-killing


def node_alerts(platform: Platform, job: Job) -> list[Alert]:
    sel = f'job="{job.name}"'
    lab = f'{sel}, instance="{job.instance}", {SVC}="{job.service}", {TEAM}="{job.team}"'
    fs = f'{lab}, device="/dev/sda1", fstype="ext4", mountpoint="/"'
    gib = 1024.0**3
    horizon = FILESYSTEM_HORIZON_HOURS * 3600
    real_fs = 'fstype!~"tmpfs|overlay|squashfs"'
    filling = component_alert(
        platform,
        name="NodeFilesystemFillingUp",
        expr=(
            f"predict_linear(node_filesystem_avail_bytes{{{sel}, {real_fs}}}[1h], {horizon}) < 0\n"
            f"and on (instance, device, mountpoint) node_filesystem_avail_bytes{{{sel}, {real_fs}}}"
            f" / node_filesystem_size_bytes{{{sel}, {real_fs}}} < {num(FILESYSTEM_FREE_RATIO)}\n"
            f"and on (instance, device, mountpoint) node_filesystem_readonly{{{sel}}} == 0"
        ),
        severity=Severity.PAGE,
        service=job.service,
        team=job.team,
        summary="{{$labels.mountpoint}} on {{$labels.instance}} fills up within "
        + f"{FILESYSTEM_HORIZON_HOURS}h",
        description=(
            f"At the rate of the last hour, {{{{$labels.mountpoint}}}} ({{{{$labels.device}}}}) on {{{{$labels.instance}}}} "
            f"is full within {FILESYSTEM_HORIZON_HOURS}h (predicted {{{{ $value | humanize1024 }}}}B free then), with less than "
            f"{FILESYSTEM_FREE_RATIO:.0%} free already. Databases and logs stop writing when it is full."
        ),
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.FILESYSTEM,
        runbook_base=job.runbook_base,
        for_="15m",
        variables={"instance": "{{$labels.instance}}"},
    )
    # 1 GiB per minute down from 100 GiB: predict_linear over 4h is exact for a straight line.
    minutes = 15 + 60 + 2 * TEST_MINUTES_MARGIN
    avail_bad = [100 * gib - i * gib for i in range(minutes + 1)]
    predicted = avail_bad[minutes] - 240 * gib
    ro = Series(f"node_filesystem_readonly{{{fs}}}", f"0x{minutes}")
    size = Series(f"node_filesystem_size_bytes{{{fs}}}", f"{num(1024 * gib)}x{minutes}")  # 1 TiB
    fire_labels = {
        "job": job.name,
        "instance": job.instance,
        "device": "/dev/sda1",
        "fstype": "ext4",
        "mountpoint": "/",
    }
    filling = filling.with_tests(
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
            "blip: a 10m burst of writes, then steady",
            (
                Series(
                    f"node_filesystem_avail_bytes{{{fs}}}",
                    compress(
                        [100 * gib] * 60
                        + [100 * gib - i * 3 * gib for i in range(1, 11)]
                        + [70 * gib] * (minutes - 69)
                    ),
                ),
                size,
                ro,
            ),
            f"{minutes}m",
        ),
    )
    memory = component_alert(
        platform,
        name="NodeMemoryPressure",
        expr=f"node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}} < {num(MEMORY_AVAILABLE_RATIO)}",
        severity=Severity.TICKET,
        service=job.service,
        team=job.team,
        summary="{{$labels.instance}} has only {{ $value | humanizePercentage }} of its memory available",
        description=f"Available memory on {{{{$labels.instance}}}} has been {{{{ $value | humanizePercentage }}}} for 15m (threshold {MEMORY_AVAILABLE_RATIO:.0%}): the OOM killer is next.",
        dashboard_uid=links.NODE_UID,
        panel=links.NodePanel.MEMORY,
        runbook_base=job.runbook_base,
        for_="15m",
        variables={"instance": "{{$labels.instance}}"},
    )
    memory = memory.with_tests(
        *threshold_cases(
            [Signal(f"node_memory_MemAvailable_bytes{{{lab}}}", 8 * gib, 0.8 * gib)],
            memory.for_,
            Fires(
                value=0.05,
                labels={"job": job.name, "instance": job.instance, SVC: job.service, TEAM: job.team},
            ),
            extra=[Series(f"node_memory_MemTotal_bytes{{{lab}}}", f"{num(16 * gib)}x60")],
        )
    )
    return [filling, memory]


__all__ = ["FILESYSTEM_FREE_RATIO", "FILESYSTEM_HORIZON_HOURS", "MEMORY_AVAILABLE_RATIO", "node_alerts"]
