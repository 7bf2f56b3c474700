"""The generated stack, running for real (tests/e2e/conftest.py), tells the story its rules promise:
quiet when healthy, the page and HighErrorRate on an error burst at the owning team's receiver with
the rule's labels, annotations and links, resolved notifications on recovery, and a stopped
dependency's alert inhibiting the symptoms it explains. The tests run in this order on one stack;
each leaves it healed."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from obs.demo.apps.faults import NO_FAULT, Fault
from obs.demo.observe import Delivery
from obs.demo.stack import Stack
from obs.runtime import AmAlert
from tests.e2e.conftest import TIME_SCALE, Running
from tests.e2e.helpers import (
    built_alert,
    deliveries,
    expected_seconds,
    fastest_page,
    firing,
    rule_firing,
    wait_for,
)

pytestmark = pytest.mark.slow

SERVICE, TEAM_CHAT = "backend", "learning-chat"
DATASTORE, DATASTORE_CHAT = "redis", "platform-chat"
#: Wall seconds of healthy traffic watched: ten minutes of platform time.
HEALTHY_WATCH = 600 / TIME_SCALE


def _titles(found: list[Delivery]) -> list[str]:
    return [f"{d.receiver}: {d.text}" for d in found]


def test_healthy_traffic_fires_no_alert_but_the_watchdog(running: Running) -> None:
    stack = running.stack
    since = time.time()
    # Past the first evaluations: alerts that were pending before the first scrape have resolved.
    wait_for(lambda: {a.name for a in stack.prometheus.alerts()} == {"Watchdog"}, 30, "only the Watchdog left after start-up")
    deadline = time.monotonic() + HEALTHY_WATCH
    while time.monotonic() < deadline:
        alerts = {(a.name, a.state) for a in stack.prometheus.alerts()}
        assert alerts == {("Watchdog", "firing")}, f"healthy traffic raised {sorted(alerts)}"
        time.sleep(1)
    received = deliveries(stack, since)
    assert received, "the heartbeat receiver got no Watchdog notification"
    assert {(d.receiver, d.alertnames) for _, d in received} == {("heartbeat", ("Watchdog",))}
    assert all(sum(counts.get(k, 0) for k in ("5xx", "no answer")) == 0 for counts in running.traffic.counts.values()), running.traffic.counts


def test_an_error_burst_pages_and_fires_high_error_rate_at_the_owning_teams_receiver(running: Running) -> None:
    stack = running.stack
    page = fastest_page(stack, SERVICE, "availability")
    ticket = built_alert(stack, "HighErrorRate", service=SERVICE)
    since = time.time()
    stack.set_fault(SERVICE, Fault(error_ratio=0.5))
    try:
        _, page_after = wait_for(lambda: rule_firing(stack, page), expected_seconds(page, TIME_SCALE), "the SLO page firing")
        _, ticket_after = wait_for(lambda: firing(stack, "HighErrorRate", service=SERVICE), expected_seconds(ticket, TIME_SCALE), "HighErrorRate firing")
        print(f"page fired after {page_after:.1f} s, HighErrorRate after {ticket_after:.1f} s (time scale {TIME_SCALE:g})")

        def at_chat(name: str) -> list[Delivery]:
            return [d for _, d in deliveries(stack, since) if d.receiver == TEAM_CHAT and d.status == "firing" and name in d.alertnames and d.service == SERVICE]

        for name in ("ErrorBudgetBurn", "HighErrorRate"):
            wait_for(lambda name=name: at_chat(name), 15, f"{name} {SERVICE} at {TEAM_CHAT}")  # type: ignore[misc]
        chat, _ = wait_for(lambda: [n for n, d in deliveries(stack, since) if d.receiver == TEAM_CHAT and "HighErrorRate" in d.alertnames], 5, "the chat message")
        attachment = chat[0].payload["attachments"][0]
        # The audit webhook carries the alert whole: the rule's labels and annotations, the links.
        logged, _ = wait_for(
            lambda: [a for n, _ in deliveries(stack, since) if n.receiver == "alert-log" for a in n.alerts if a["labels"].get("alertname") == "HighErrorRate" and a["labels"].get("service") == SERVICE],
            15, "HighErrorRate at the alert-log webhook",
        )  # fmt: skip
    finally:
        stack.set_fault(SERVICE, NO_FAULT)
    alert = logged[0]
    assert alert["labels"] == {**ticket["labels"], "alertname": "HighErrorRate", "environment": stack.env.name}
    assert set(alert["annotations"]) == set(ticket["annotations"])
    for link in ("runbook_url", "dashboard_url"):
        assert alert["annotations"][link] == ticket["annotations"][link]
        assert f"<{ticket['annotations'][link]}|" in attachment["text"], f"the chat message lacks the {link}"
    assert "/d/obs-svc-backend?" in alert["annotations"]["dashboard_url"]
    assert re.fullmatch(r"backend answers [\d.]+% of requests with a server error", alert["annotations"]["summary"])
    assert alert["generatorURL"].startswith(stack.env.prometheus_url)
    # Nobody else's chat heard about the backend: the other teams' receivers got only their own services.
    chats = [d for _, d in deliveries(stack, since) if d.receiver.endswith("-chat")]
    assert {d.receiver for d in chats if d.service == SERVICE} == {TEAM_CHAT}, _titles(chats)


def test_recovery_sends_the_resolved_notification(running: Running) -> None:
    stack = running.stack
    ticket = built_alert(stack, "HighErrorRate", service=SERVICE)
    since = time.time() - 5
    stack.set_fault(SERVICE, NO_FAULT)
    # Resolved once the window holds no more errors, sent at the next group interval.
    am = yaml.safe_load((stack.config_dir / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    from obs.demo.timescale import seconds

    timeout = expected_seconds(ticket, TIME_SCALE) + seconds(am["route"]["group_interval"])

    def resolved(receiver: str) -> list[Delivery]:
        return [d for _, d in deliveries(stack, since) if d.receiver == receiver and d.status == "resolved" and "HighErrorRate" in d.alertnames]

    _, after = wait_for(lambda: resolved(TEAM_CHAT), timeout, f"HighErrorRate resolved at {TEAM_CHAT}")
    wait_for(lambda: resolved("alert-log"), 10, "HighErrorRate resolved at alert-log")
    print(f"resolved notification after {after:.1f} s")
    assert not firing(stack, "HighErrorRate", service=SERVICE)


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def _matches(matchers: list[str], labels: Mapping[str, str]) -> bool:
    """Alertmanager's matchers (``name="v"``, ``=~``, ``!=``, ``!~``) against a label set."""
    for text in matchers:
        found = _MATCHER.fullmatch(text)
        assert found, f"cannot read the matcher {text!r}"
        name, op, value = found.groups()
        have = labels.get(name, "")
        hit = re.fullmatch(value, have) is not None if "~" in op else have == value
        if hit == op.startswith("!"):
            return False
    return True


def _inhibit_rules(stack: Stack) -> list[dict[str, Any]]:
    config = yaml.safe_load((stack.config_dir / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    return list(config.get("inhibit_rules") or [])


def test_stopping_a_dependency_fires_its_alert_and_inhibits_what_the_inhibit_rules_say(running: Running) -> None:
    stack = running.stack
    down = built_alert(stack, "RedisDown", service=DATASTORE)
    symptom = built_alert(stack, "HighErrorRate", service=SERVICE)
    since = time.time()
    stack.stop_component(DATASTORE)
    try:
        _, after = wait_for(lambda: firing(stack, "RedisDown", service=DATASTORE), expected_seconds(down, TIME_SCALE), "RedisDown firing")
        print(f"RedisDown fired after {after:.1f} s")
        wait_for(lambda: [d for _, d in deliveries(stack, since) if d.receiver == DATASTORE_CHAT and "RedisDown" in d.alertnames], 15, f"RedisDown at {DATASTORE_CHAT}")

        rules: list[dict[str, Any]] = []
        targets: list[AmAlert] = []

        def all_held_back() -> bool:
            """Every alert an inhibit rule sourced by RedisDown names, the backend's HighErrorRate
            among them, is held back (Alertmanager marks one when its group is next flushed)."""
            nonlocal rules, targets
            alerts = stack.alertmanager.alerts()
            source = next(a for a in alerts if a.name == "RedisDown")
            rules = [r for r in _inhibit_rules(stack) if _matches(r.get("source_matchers", []), source.labels)]
            targets = [
                a for a in alerts for r in rules
                if a.state != "unprocessed" and _matches(r.get("target_matchers", []), a.labels)
                and all(a.labels.get(k) == source.labels.get(k) for k in r.get("equal", []))
            ]  # fmt: skip
            backend = any(a.name == "HighErrorRate" and a.labels.get("service") == SERVICE for a in targets)
            return backend and all(a.inhibited for a in targets)

        try:
            wait_for(all_held_back, expected_seconds(symptom, TIME_SCALE) + 5, f"HighErrorRate {SERVICE} and every other target held back")
        except AssertionError:
            shown = [f"{a.name} {a.labels.get('service')} {a.state} inhibited={a.inhibited}" for a in targets]
            raise AssertionError(f"inhibit rules sourced by RedisDown: {len(rules)}; their targets: {shown}") from None
        chat = [d for _, d in deliveries(stack, since) if d.receiver == TEAM_CHAT and d.status == "firing" and "HighErrorRate" in d.alertnames]
        assert not chat, f"inhibited HighErrorRate still reached {TEAM_CHAT}: {_titles(chat)}"
    finally:
        stack.start_component(DATASTORE)
    wait_for(lambda: [d for _, d in deliveries(stack, since) if d.receiver == DATASTORE_CHAT and d.status == "resolved" and "RedisDown" in d.alertnames], 60, "RedisDown resolved")
