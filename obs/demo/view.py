"""The live terminal view: one screen of text redrawn every second (plain lines when not a terminal)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence

from obs.demo.observe import BURN_WINDOWS, Event, Snapshot

CLEAR = "\x1b[H\x1b[2J"
_STATE_MARK = {"pending": "…", "firing": "!", "inhibited": "~"}


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def _targets(snapshot: Snapshot) -> str:
    jobs: dict[str, list[bool]] = {}
    for job, _, up in snapshot.targets:
        jobs.setdefault(job, []).append(up)
    parts = [f"{job} {'up' if all(ups) else f'DOWN {ups.count(False)}/{len(ups)}'}" for job, ups in sorted(jobs.items())]
    return "  ".join(parts) or "(none scraped yet: Prometheus' first scrape comes about 5 s after it starts)"


def _burn(snapshot: Snapshot) -> list[str]:
    lines = []
    width = max((len(f"{service}/{slo}") for service, slo in snapshot.burn_rates), default=0)
    for (service, slo), rates in sorted(snapshot.burn_rates.items()):
        shown = "  ".join(f"{w} {rates[w]:7.1f}x" if w in rates else f"{w}      - " for w in BURN_WINDOWS)
        lines.append(f"  {f'{service}/{slo}':<{width}}  {shown}")
    return lines or ["  (no SLO series recorded yet)"]


def render(
    snapshot: Snapshot, *, title: str, elapsed: float, platform_elapsed: float, traffic: Mapping[str, Mapping[str, int]],
    events: Sequence[Event], started: float, keys: str = "", width: int = 120,
) -> str:  # fmt: skip
    """The screen for ``snapshot``: targets, burn rates, alerts, notifications, traces, traffic, the last events."""
    lines = [
        f"{title}   {_clock(elapsed)} elapsed ({_clock(platform_elapsed)} platform time)",
        f"targets   {_targets(snapshot)}",
        "SLO burn rates (error budget spent per unit of time; 1x = exactly on budget)",
        *_burn(snapshot),
        "alerts (… pending, ! firing, ~ firing but inhibited)",
    ]
    alerts = sorted(snapshot.alerts, key=lambda a: (a.state != "firing", a.key))
    lines += [f"  {_STATE_MARK.get(a.state, '?')} {a.key}"[:width] for a in alerts] or ["  (none)"]
    received = [d for d in snapshot.deliveries if d.receiver != "heartbeat"]
    heartbeats = len(snapshot.deliveries) - len(received)
    by_receiver = Counter(f"{d.receiver} {d.status}" for d in received)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(by_receiver.items())) or "none"
    lines.append(f"notifications ({heartbeats} Watchdog heartbeats)  {summary}")
    for d in received[-5:]:
        lines.append(f"  {time.strftime('%H:%M:%S', time.localtime(d.at))} {d.receiver:<18} {d.status:<8} {d.text}"[:width])
    spans = ", ".join(f"{service} {count}" for service, count in sorted(snapshot.spans_by_service.items())) or "none yet"
    lines.append(f"traces received (spans)  {spans}")
    sent = "  ".join(f"{service}: " + " ".join(f"{k} {v}" for k, v in sorted(counts.items())) for service, counts in sorted(traffic.items()))
    lines.append(f"traffic   {sent}")
    lines.append("timeline")
    for event in events[-8:]:
        lines.append(f"  {_clock(event.at - started):>6} {event.kind:<12} {event.text}"[:width])
    if snapshot.errors:
        lines.append(f"(API: {snapshot.errors[0]})"[:width])
    if keys:
        lines.append(keys)
    return "\n".join(lines)


def plain_line(event: Event, started: float) -> str:
    """One timeline event as a log line (when the output is not a terminal)."""
    return f"{_clock(event.at - started):>6} {event.kind:<12} {event.text}"


__all__ = ["CLEAR", "plain_line", "render"]
