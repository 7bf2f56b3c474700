"""Whole incidents against the burn-rate alerts, replayed as promtool will (the replay is what the
generated tests assert; promtool then proves the rules do it): one firing interval per incident
and severity, detection no later than the SRE workbook's, a low-traffic guard that lets a total
outage through and holds isolated failures back."""

from __future__ import annotations

import math

import pytest

from edu_platform import platform as edu
from obs.catalogue.alerts.slo import incident_cases, timeline_text
from obs.catalogue.alerts.slo_scenarios import STEP_SECONDS, Replay, SLOShape, Timeline, incidents, played
from obs.model import SLO, AvailabilitySLI, LatencySLI, Service
from obs.slo import by_severity, firing_windows, workbook_detection_seconds
from tests.alerts.alert_platforms import small_platform

SLOS: list[tuple[Service, SLO]] = [
    *((s, slo) for s in edu.instrumented_services for slo in s.slos),
    *((s, slo) for s in small_platform().instrumented_services for slo in s.slos),
    (
        small_platform().service("shop"),
        SLO("strict", AvailabilitySLI(), 0.9999, min_request_rate=0.05),
    ),
]
IDS = [f"{s.name}/{slo.name}/{slo.objective}" for s, slo in SLOS]


def games(slo: SLO) -> dict[str, tuple[int, Timeline]]:
    return {g.incident.key: (g.incident.lead, g.timeline) for g in played(SLOShape.of(slo))}


@pytest.mark.parametrize(("service", "slo"), SLOS, ids=IDS)
def test_every_incident_is_one_firing_interval_per_severity(service: Service, slo: SLO) -> None:
    for key, (lead, tl) in games(slo).items():
        if key == "low-traffic-isolated":
            continue  # several small incidents, hours apart
        for severity in tl.firing:
            spans = tl.intervals(severity)
            assert len(spans) <= 1, f"{key}: {severity} fires {timeline_text(tl, lead)}"


@pytest.mark.parametrize(("service", "slo"), SLOS, ids=IDS)
def test_healthy_traffic_at_half_the_budget_rate_never_alerts(service: Service, slo: SLO) -> None:
    lead, tl = games(slo)["healthy-half-budget"]
    assert all(not spans for spans in (tl.intervals(s) for s in tl.firing)), timeline_text(tl, lead)


def _detected_minutes(lead: int, tl: Timeline, severity: str) -> int | None:
    spans = tl.intervals(severity)
    return (spans[0][0] - lead) * STEP_SECONDS // 60 if spans else None


def _burn(slo: SLO, key: str) -> float:
    """The burn rate of an incident's failing steps."""
    shape = SLOShape.of(slo)
    incident = next(i for i in incidents(shape) if i.key == key)
    step = incident.steps[incident.lead]
    return step.bad / step.total / shape.budget


@pytest.mark.parametrize(("service", "slo"), SLOS, ids=IDS)
@pytest.mark.parametrize("key", ["long-partial-outage", "slow-burn"])
def test_detection_is_no_later_than_the_workbooks_for_the_burn_rate(service: Service, slo: SLO, key: str) -> None:
    """The workbook: an alert fires once its long window has filled to its factor (long window x
    factor / burn rate); promtool evaluates every 5 minutes, so at the next evaluation after that."""
    burn = _burn(slo, key)
    lead, tl = games(slo)[key]
    for severity, rows in by_severity(firing_windows(slo)).items():
        expected = workbook_detection_seconds(rows, burn)
        found = _detected_minutes(lead, tl, severity)
        if expected is None:
            continue
        bound = math.ceil(expected / STEP_SECONDS) * STEP_SECONDS // 60
        assert found is not None and found <= bound, f"{key} at {burn:.3g}x: {severity} after {found}m, workbook {expected / 60:.1f}m"


@pytest.mark.parametrize(
    ("key", "page", "ticket"),
    [
        # A 4-minute total outage: one page (not two), open while the 30m window holds it, plus the
        # 15 minutes it keeps firing.
        ("short-total-outage", "+5m to +50m", "+5m to the end"),
        # The workbook pages 8.6 minutes into a 100x burn (14.4 x 1h / 100): the next evaluation.
        # The ticket's 3d window holds the one day of history before the incident: 15 minutes.
        ("long-partial-outage", "+10m to +6h45m", "+15m to the end"),
        ("slow-burn", "never", "+13h15m to the end"),
        ("healthy-half-budget", "never", "never"),
        # The scrape gap leaves the short windows empty for 15 minutes: the page stays open.
        ("scrape-gap", "+5m to +1h15m", "+5m to the end"),
        # Two failed requests at night do not page; at 0.01 requests/s they are a 5x burn: a ticket.
        ("low-traffic-isolated", "never", "+5m to +18h35m"),
        # Three failed requests get past the guard: the quiet service's outage pages at once.
        ("low-traffic-down", "+5m to +2h45m", "+5m to the end"),
    ],
)
def test_the_built_in_backends_availability_timeline(key: str, page: str, ticket: str) -> None:
    """The numbers on-call can expect for a 99.9%/30d SLO with the guard at 0.1 requests/s."""
    lead, tl = games(edu.service("backend").slos[0])[key]
    assert timeline_text(tl, lead) == f"page {page}; ticket {ticket}"


@pytest.mark.parametrize(("service", "slo"), SLOS, ids=IDS)
def test_a_quiet_service_that_fails_completely_still_pages(service: Service, slo: SLO) -> None:
    if not slo.page or slo.min_request_rate == 0:
        pytest.skip("no page or no guard")
    lead, tl = games(slo)["low-traffic-down"]
    assert tl.intervals(next(iter(tl.firing))), timeline_text(tl, lead)


@pytest.mark.parametrize(("service", "slo"), SLOS, ids=IDS)
def test_isolated_failures_at_low_traffic_do_not_page_and_only_the_guard_stops_them(service: Service, slo: SLO) -> None:
    shape = SLOShape.of(slo)
    if "page" not in shape.severities():
        pytest.skip("the SLO does not page")
    incident = next(i for i in incidents(shape) if i.key == "low-traffic-isolated")
    guarded, bare = Replay(shape, incident).run(), Replay(shape, incident, guard=False).run()
    assert guarded.intervals("page") == []
    # The ratios alone would page on two failed requests: the guard is what holds them.
    assert bare.intervals("page")


def test_each_incident_is_a_promtool_case_named_by_its_timeline() -> None:
    service = edu.service("backend")
    slo = service.slos[0]
    from obs.catalogue.alerts.slo import burn_alerts

    alerts = {a.severity.value: a for a, _ in burn_alerts(edu, edu.environments[0], service, slo)}
    cases = incident_cases(service, slo, alerts)
    names = [c["name"] for c in cases]
    assert names[0] == (
        "ErrorBudgetBurn [backend/availability]: short total outage (every request failing for 4m): "
        "page +5m to +50m; ticket +5m to the end"
    )
    short = cases[0]
    times = [t["eval_time"] for t in short["alert_rule_test"]]
    # Each side of each start and stop is asserted: quiet at 1d, both firing at 1d5m, the page gone at 1d50m.
    assert {"1440m", "1445m", "1485m", "1490m"} <= set(times)
    at = {t["eval_time"]: {a["exp_labels"]["severity"] for a in t["exp_alerts"]} for t in short["alert_rule_test"]}
    assert at["1440m"] == set() and at["1445m"] == {"page", "ticket"} and at["1490m"] == {"ticket"}


def test_a_latency_slo_counts_the_requests_slower_than_its_threshold() -> None:
    shop = small_platform().service("shop")
    latency = shop.slo("latency")
    assert isinstance(latency.sli, LatencySLI)
    _, tl = games(latency)["long-partial-outage"]
    assert tl.intervals("page") and tl.intervals("ticket")
