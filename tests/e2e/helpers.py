"""What the end-to-end tests read from the build and the running stack."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from obs.demo.observe import Delivery, delivery
from obs.demo.stack import Stack
from obs.demo.timescale import seconds
from obs.runtime import Notification

#: A range (``[5m]``) or a recorded series named after its window (``slo:burn_rate:ratio_rate1h``).
_RANGE = re.compile(r"\[(\d+[smhd])|_rate(\d+[smhd])\b")
#: What a scaled alert may take beyond its own for and window: Prometheus' first scrape after a
#: change (1 scrape), rule evaluation (1 interval), Alertmanager's group_wait and delivery, and a
#: loaded 2-core CI machine.
SLACK_SECONDS = 15.0


def built_rules(stack: Stack) -> list[dict[str, Any]]:
    """Every rule of the build (unscaled, as generated)."""
    rules: list[dict[str, Any]] = []
    for path in sorted((stack.build_dir / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.extend(group["rules"])
    return rules


def built_alert(stack: Stack, name: str, **labels: str) -> dict[str, Any]:
    found = [r for r in built_rules(stack) if r.get("alert") == name and all(r["labels"].get(k) == v for k, v in labels.items())]
    assert len(found) == 1, f"expected one {name} rule with {labels}, the build has {len(found)}"
    return found[0]


def expected_seconds(rule: Mapping[str, Any], scale: float) -> float:
    """Wall seconds within which ``rule`` must fire once a strong fault (half the requests failing,
    a server stopped) starts: its ``for`` plus its shortest window (a range, or a recorded series'
    window; a multiwindow burn-rate alert holds once its short window has filled, the long one
    crossing the threshold sooner), scaled, plus :data:`SLACK_SECONDS`."""
    window = min((seconds(a or b) for a, b in _RANGE.findall(str(rule["expr"]))), default=0.0)
    return (seconds(str(rule.get("for", "0s"))) + window) / scale + SLACK_SECONDS


def deliveries(stack: Stack, since: float = 0.0) -> list[tuple[Notification, Delivery]]:
    assert stack.sink is not None
    return [(n, delivery(n)) for n in stack.sink.notifications if n.received_at >= since]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> tuple[Any, float]:
    """Poll ``predicate`` until truthy; returns (its value, seconds it took). Fails naming ``what``."""
    started = time.monotonic()
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value, time.monotonic() - started
        except Exception as exc:  # a server still catching up answers with errors
            last = exc
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def firing(stack: Stack, name: str, **labels: str) -> bool:
    return any(a.name == name and a.state == "firing" and all(a.labels.get(k) == v for k, v in labels.items()) for a in stack.prometheus.alerts())


def fastest_page(stack: Stack, service: str, slo: str) -> dict[str, Any]:
    """The SLO's page-severity burn-rate rule that fires soonest (the catalogue may have several)."""
    pages = [r for r in built_rules(stack) if r.get("alert") == "ErrorBudgetBurn" and r["labels"].get("service") == service and r["labels"].get("slo") == slo and r["labels"].get("severity") == "page"]
    assert pages, f"the build has no page-severity ErrorBudgetBurn rule for {service}/{slo}"
    return min(pages, key=lambda r: expected_seconds(r, 1.0))


def rule_firing(stack: Stack, rule: Mapping[str, Any]) -> bool:
    """Whether an alert of ``rule`` fires (its name and every label the rule sets)."""
    return firing(stack, str(rule["alert"]), **{str(k): str(v) for k, v in rule.get("labels", {}).items()})
