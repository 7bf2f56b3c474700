"""``obs demo``'s loop: start the stack, drive traffic, play the scenario, redraw the view, and end
(scenario over, ``--duration``, Ctrl-C or ``q``) with the report, then stop everything."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from obs.demo.observe import Observer, Timeline
from obs.demo.report import dashboard_previews, story_dashboards, write_report
from obs.demo.scenario import INCIDENT_KINDS, Incident, Scenario, main_service, manual, story
from obs.demo.stack import Stack, StackOptions
from obs.demo.traffic import Traffic
from obs.demo.view import CLEAR, plain_line, render

log = logging.getLogger(__name__)

KEYS = {"e": "errors", "l": "latency", "d": "dependency", "s": "service"}
KEY_HELP = "keys: e error burst  l latency  d stop/start dependency  s stop/start service  q quit (each key toggles)"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    stack: StackOptions
    #: Incident kinds of the scheduled story (empty: healthy traffic and key presses only).
    scenario: Sequence[str] = INCIDENT_KINDS
    #: Wall-clock seconds before the demo ends (None: when the scenario ends, or on Ctrl-C).
    duration: float | None = None
    rate: float = 10.0
    live: bool = True


@dataclass(frozen=True, slots=True)
class DemoResult:
    report: Path
    run_dir: Path
    wall_seconds: float
    reason: str


@contextlib.contextmanager
def _keys(enabled: bool) -> Iterator[Callable[[float], str]]:
    """A reader of single key presses (cbreak mode) that waits at most ``timeout`` seconds."""
    if not enabled or not sys.stdin.isatty():

        def wait(timeout: float) -> str:
            time.sleep(timeout)
            return ""

        yield wait
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read(timeout: float) -> str:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="ignore") if ready else ""

    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_demo(options: DemoOptions, out: TextIO = sys.stdout, progress: Callable[[str], None] | None = None) -> DemoResult:
    scale = options.stack.time_scale
    live = options.live and out.isatty()
    with Stack(options.stack, progress) as stack:
        timeline = Timeline()
        incidents: tuple[Incident, ...] = story(stack.platform, options.scenario) if options.scenario else ()
        scenario = Scenario(stack, incidents, timeline)
        assert stack.sink is not None and stack.otlp is not None  # started by Stack.start
        observer = Observer(stack.prometheus, stack.alertmanager, stack.sink, stack.otlp, timeline)
        traffic = Traffic(stack.traffic_targets(options.rate)).start()
        if progress:
            progress("waiting for Prometheus' first scrape of every target")
        stack.wait_until_scraped()
        title = f"obs demo: {stack.platform.name}/{stack.env.name} on 127.0.0.1, time scale x{scale:g}, story on {main_service(stack.platform).name}"
        timeline.add("note", f"stack started in {stack.run_dir}; traffic at {options.rate:g} requests/s per service")
        started = time.time()
        reason = "scenario finished"
        manual_incidents: dict[str, Incident] = {}
        printed = 0
        try:
            with _keys(live) as read_key:
                while True:
                    wall = time.time() - started
                    scenario.tick(wall * scale)
                    snapshot = observer.poll()
                    events = timeline.snapshot()
                    if live:
                        screen = render(snapshot, title=title, elapsed=wall, platform_elapsed=wall * scale, traffic=traffic.counts,
                                        events=events, started=started, keys=KEY_HELP, width=shutil.get_terminal_size().columns)  # fmt: skip
                        out.write(CLEAR + screen + "\n")
                    else:
                        out.writelines(plain_line(e, started) + "\n" for e in events[printed:])
                    out.flush()
                    printed = len(events)
                    if options.duration is not None and wall >= options.duration:
                        reason = f"--duration {options.duration:g}s reached"
                        break
                    if options.duration is None and incidents and scenario.finished(wall * scale):
                        break
                    key = read_key(1.0)
                    if key == "q":
                        reason = "q pressed"
                        break
                    if key in KEYS:
                        _toggle(scenario, stack, KEYS[key], manual_incidents)
        except KeyboardInterrupt:
            reason = "interrupted (Ctrl-C)"
        ended = time.time()
        timeline.add("note", f"demo ends: {reason}")
        scenario.heal_all()
        for incident in manual_incidents.values():
            scenario.heal(incident)
        traffic.stop()
        report_dir = stack.run_dir / "report"
        previews = dashboard_previews(stack, story_dashboards(main_service(stack.platform).name), started, ended, report_dir)
        report = write_report(
            stack, report_dir, started=started, ended=ended, incidents=incidents, events=timeline.snapshot(),
            deliveries=observer.poll().deliveries, previews=previews, traffic={k: dict(v) for k, v in traffic.counts.items()},
        )  # fmt: skip
        return DemoResult(report, stack.run_dir, ended - started, reason)


def _toggle(scenario: Scenario, stack: Stack, kind: str, active: dict[str, Incident]) -> None:
    if kind in active:
        scenario.heal(active.pop(kind))
        return
    incident = manual(stack, kind)
    active[kind] = incident
    scenario.begin(incident)


__all__ = ["KEYS", "DemoOptions", "DemoResult", "run_demo"]
