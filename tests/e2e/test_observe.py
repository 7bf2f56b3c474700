"""How the demo reads what receivers got (Alertmanager's webhook, Slack and PagerDuty payloads) and
draws its live view."""

from __future__ import annotations

from typing import Any

import pytest

from obs.demo.observe import AlertState, Delivery, Event, Snapshot, delivery
from obs.demo.view import render
from obs.runtime import Notification

WEBHOOK = {"status": "resolved", "alerts": [{"labels": {"alertname": "HighErrorRate", "service": "backend"}, "annotations": {"summary": "backend answers 9% errors"}}]}
SLACK = {"channel": "#edu-learning", "attachments": [{"title": "[FIRING:2] ErrorBudgetBurn backend", "text": "*page* ..."}]}
PAGERDUTY = {"routing_key": "k", "event_action": "resolve", "payload": {"summary": "ErrorBudgetBurn backend: burning"}}


@pytest.mark.parametrize(
    ("payload", "status", "names", "text", "service"),
    [
        (WEBHOOK, "resolved", ("HighErrorRate",), "backend answers 9% errors", "backend"),
        (SLACK, "firing", ("ErrorBudgetBurn",), "[FIRING:2] ErrorBudgetBurn backend", "backend"),
        ({**SLACK, "attachments": [{"title": "[FIRING:1] HighErrorRate bridge (ticket)"}]}, "firing", ("HighErrorRate",), "[FIRING:1] HighErrorRate bridge (ticket)", "bridge"),
        ({**SLACK, "attachments": [{"title": "[RESOLVED] RedisDown redis"}]}, "resolved", ("RedisDown",), "[RESOLVED] RedisDown redis", "redis"),
        ({**SLACK, "attachments": [{"title": "[RESOLVED] Watchdog"}]}, "resolved", ("Watchdog",), "[RESOLVED] Watchdog", ""),
        (PAGERDUTY, "resolved", ("ErrorBudgetBurn",), "ErrorBudgetBurn backend: burning", "backend"),
        ({**PAGERDUTY, "event_action": "trigger"}, "firing", ("ErrorBudgetBurn",), "ErrorBudgetBurn backend: burning", "backend"),
    ],
)
def test_every_receiver_payload_reads_as_status_alerts_text_and_service(payload: dict[str, Any], status: str, names: tuple[str, ...], text: str, service: str) -> None:
    assert delivery(Notification("learning-chat", payload, 12.0)) == Delivery("learning-chat", status, names, text, 12.0, service)


def test_the_view_shows_targets_burn_rates_alerts_notifications_traces_and_traffic() -> None:
    snapshot = Snapshot(
        at=100.0,
        targets=(("backend", "127.0.0.1:1", True), ("redis", "127.0.0.1:2", False)),
        burn_rates={("backend", "availability"): {"5m": 506.25, "1h": 20.0}},
        alerts=(
            AlertState("HighErrorRate", {"alertname": "HighErrorRate", "service": "backend", "severity": "ticket", "team": "learning"}, "inhibited"),
            AlertState("RedisDown", {"service": "redis", "severity": "page"}, "firing"),
        ),
        deliveries=(Delivery("heartbeat", "firing", ("Watchdog",), "", 1.0), Delivery("platform-chat", "firing", ("RedisDown",), "[FIRING:1] RedisDown redis", 2.0)),
        spans_by_service={"backend": 40, "bridge": 12},
    )
    screen = render(snapshot, title="obs demo", elapsed=75, platform_elapsed=2250, traffic={"backend": {"2xx": 10, "5xx": 3}},
                    events=[Event(90.0, "scenario", "begins: redis stopped")], started=30.0)  # fmt: skip
    lines = screen.splitlines()
    assert lines[0] == "obs demo   1:15 elapsed (37:30 platform time)"
    assert "backend up  redis DOWN 1/1" in screen
    assert "  backend/availability  5m   506.2x  1h    20.0x" in lines
    assert "  ! RedisDown{service=redis, severity=page}" in lines  # firing first
    assert "  ~ HighErrorRate{service=backend, severity=ticket}" in lines  # team and alertname not repeated
    assert "notifications (1 Watchdog heartbeats)  platform-chat firing: 1" in lines
    assert "traces received (spans)  backend 40, bridge 12" in lines
    assert "traffic   backend: 2xx 10 5xx 3" in lines
    assert "    1:00 scenario     begins: redis stopped" in lines
