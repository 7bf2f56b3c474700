"""What the running stack says, polled once a second: targets, SLO burn rates, alerts, the
notifications the receivers got, traces received; and the timeline of what changed.

The live view and the report read :class:`Snapshot` and :class:`Timeline`; nothing here writes to
the terminal.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from obs.runtime import AlertmanagerAPI, ApiError, Notification, OtlpReceiver, PrometheusAPI, WebhookSink

#: Labels every alert of a run shares or that repeat another one: not shown in an alert's key.
_UNSHOWN = frozenset({"alertname", "environment", "team", "job", "short_window", "slo_window"})
#: The burn-rate windows shown, by the name of their recorded series.
BURN_WINDOWS = ("5m", "1h")


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str  # scenario, alert, notification, traffic, note
    text: str


@dataclass
class Timeline:
    """Everything that happened, in order, with wall-clock times; thread-safe."""

    started: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, text: str, at: float | None = None) -> Event:
        event = Event(at if at is not None else time.time(), kind, text)
        with self._lock:
            self.events.append(event)
        return event

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification as a person would read it: to whom, firing or resolved, which alerts."""

    receiver: str
    status: str
    alertnames: tuple[str, ...]
    text: str
    at: float
    #: The service the alerts are about (their common ``service`` label; empty when they differ).
    service: str = ""


#: The generated chat title: ``[FIRING:2] <alertname> <service> ...``.
_SLACK_TITLE = re.compile(r"\[(FIRING|RESOLVED)(?::\d+)?\]\s+(\S+)(?:\s+([^\s(]\S*))?")


def delivery(n: Notification) -> Delivery:
    """Read an Alertmanager webhook, Slack or PagerDuty payload the same way."""
    payload: Mapping[str, Any] = n.payload
    if "alerts" in payload:  # webhook
        summary = "; ".join(str(a.get("annotations", {}).get("summary", "")) for a in n.alerts[:3])
        services = {str(a.get("labels", {}).get("service", "")) for a in n.alerts}
        return Delivery(n.receiver, n.status, n.alertnames, summary, n.received_at, services.pop() if len(services) == 1 else "")
    if "attachments" in payload:  # Slack
        attachment = (payload.get("attachments") or [{}])[0]
        title = str(attachment.get("title", ""))
        match = _SLACK_TITLE.match(title)
        if not match:
            return Delivery(n.receiver, "", (), title, n.received_at)
        return Delivery(n.receiver, match.group(1).lower(), (match.group(2),), title, n.received_at, match.group(3) or "")
    if "event_action" in payload:  # PagerDuty events v2
        status = "resolved" if payload.get("event_action") == "resolve" else "firing"
        summary = str((payload.get("payload") or {}).get("summary", ""))
        words = summary.split()
        return Delivery(n.receiver, status, tuple(words[:1]), summary, n.received_at, words[1].rstrip(":") if len(words) > 1 else "")
    return Delivery(n.receiver, n.status, n.alertnames, "", n.received_at)


@dataclass(frozen=True, slots=True)
class AlertState:
    name: str
    labels: Mapping[str, str]
    state: str  # pending, firing (Prometheus); + inhibited (Alertmanager)

    @property
    def key(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k not in _UNSHOWN)
        return f"{self.name}{{{shown}}}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    targets: tuple[tuple[str, str, bool], ...]
    burn_rates: Mapping[tuple[str, str], Mapping[str, float]]
    alerts: tuple[AlertState, ...]
    deliveries: tuple[Delivery, ...]
    spans_by_service: Mapping[str, int]
    errors: tuple[str, ...] = ()


class Observer:
    """Polls the stack and turns changes into timeline events."""

    def __init__(self, prometheus: PrometheusAPI, alertmanager: AlertmanagerAPI, sink: WebhookSink, otlp: OtlpReceiver, timeline: Timeline) -> None:
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.sink = sink
        self.otlp = otlp
        self.timeline = timeline
        self._alerts: dict[str, str] = {}
        self._seen_notifications = 0
        self._targets: dict[str, bool] = {}

    def _burn_rates(self) -> dict[tuple[str, str], dict[str, float]]:
        rates: dict[tuple[str, str], dict[str, float]] = {}
        for window in BURN_WINDOWS:
            for sample in self.prometheus.query(f"slo:burn_rate:ratio_rate{window}"):
                key = (sample.labels.get("service", ""), sample.labels.get("slo", ""))
                rates.setdefault(key, {})[window] = sample.value
        return rates

    def _alert_states(self) -> list[AlertState]:
        """Prometheus' alerts; a firing one that Alertmanager holds back by an inhibit rule is ``inhibited``.
        (Alertmanager's copy also carries the external labels, e.g. ``environment``.)"""
        held = [a.labels for a in self.alertmanager.alerts() if a.inhibited]

        def inhibited(labels: Mapping[str, str]) -> bool:
            return any(all(other.get(k) == v for k, v in labels.items()) for other in held)

        return [AlertState(a.name, a.labels, "inhibited" if a.state == "firing" and inhibited(a.labels) else a.state) for a in self.prometheus.alerts()]

    def poll(self) -> Snapshot:
        now = time.time()
        errors: list[str] = []
        targets: tuple[tuple[str, str, bool], ...] = ()
        burn: dict[tuple[str, str], dict[str, float]] = {}
        alerts: list[AlertState] = []
        try:
            targets = tuple((t.job, t.instance, t.up) for t in self.prometheus.targets())
            burn = self._burn_rates()
            alerts = self._alert_states()
        except ApiError as exc:
            errors.append(str(exc))
        self._record_targets(targets)
        self._record_alerts(alerts)
        deliveries = tuple(delivery(n) for n in self.sink.notifications)
        for d in deliveries[self._seen_notifications :]:
            if d.receiver != "heartbeat":  # the Watchdog's pings every interval: counted, not listed
                names = ",".join(d.alertnames)
                self.timeline.add("notification", f"{d.receiver} got {d.status} {names}: {d.text}".rstrip(": "), d.at)
        self._seen_notifications = len(deliveries)
        spans = Counter(s.service_name for s in self.otlp.spans)
        return Snapshot(now, targets, burn, tuple(alerts), deliveries, dict(spans), tuple(errors))

    def _record_targets(self, targets: tuple[tuple[str, str, bool], ...]) -> None:
        for job, instance, up in targets:
            key = f"{job} {instance}"
            if key in self._targets and self._targets[key] != up:
                self.timeline.add("target", f"target {key} is {'up' if up else 'down'}")
            self._targets[key] = up

    def _record_alerts(self, alerts: list[AlertState]) -> None:
        current = {a.key: a.state for a in alerts}
        for key, state in current.items():
            if self._alerts.get(key) != state:
                self.timeline.add("alert", f"{key} {state}")
        for key in self._alerts.keys() - current.keys():
            self.timeline.add("alert", f"{key} resolved")
        self._alerts = current


__all__ = ["BURN_WINDOWS", "AlertState", "Delivery", "Event", "Observer", "Snapshot", "Timeline", "delivery"]
