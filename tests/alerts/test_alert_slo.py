"""The SLO model's side of the rules: the burn-rate window table (data from the SRE workbook,
factors that follow the SLO window), and the names and labels of the recorded series, which the
rules record and the dashboards read."""

from __future__ import annotations

import pytest
from alert_platforms import small_platform

from edu_platform import platform as edu
from obs.catalogue.alerts import rule_files
from obs.errors import ModelError
from obs.model import SLO, AvailabilitySLI, Platform
from obs.slo import (
    BurnRateWindow,
    SLORecording,
    alert_windows,
    range_just_under,
    recording_labels,
    recording_windows,
    recordings,
    sliced,
    window_table,
)


def slo(window: str = "30d", page: bool = True) -> SLO:
    return SLO("availability", AvailabilitySLI(), 0.999, window=window, page=page)


def test_the_table_is_the_workbooks_two_pages_and_two_tickets_without_a_for() -> None:
    rows = window_table()
    assert [(r.severity, r.long_window, r.short_window, r.budget_percent) for r in rows] == [
        ("page", "1h", "5m", 2.0),
        ("page", "6h", "30m", 5.0),
        ("ticket", "1d", "2h", 10.0),
        ("ticket", "3d", "6h", 10.0),
    ]


@pytest.mark.parametrize(
    ("window", "factors"),
    [
        ("30d", [14.4, 6.0, 3.0, 1.0]),
        ("28d", [13.44, 5.6, 2.8, 0.933333]),
        ("7d", [3.36, 1.4, 0.7, 0.233333]),
    ],
)
def test_burn_rate_factors_scale_with_the_slo_window(window: str, factors: list[float]) -> None:
    assert [w.factor for w in alert_windows(slo(window))] == factors


def test_an_slo_that_does_not_page_turns_its_page_windows_into_tickets() -> None:
    assert [w.severity for w in alert_windows(slo(page=False))] == ["ticket"] * 4
    assert [w.severity for w in alert_windows(slo(page=True))] == ["page", "page", "ticket", "ticket"]


def test_every_window_the_alerts_read_is_recorded_shortest_first() -> None:
    assert recording_windows(slo()) == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def test_an_slo_window_not_longer_than_the_longest_alert_window_is_refused() -> None:
    # The model refuses windows under 7d; a table with a longer alert window must be refused too.
    table = (BurnRateWindow("slow", "ticket", 10, "10d", "1d"),)
    with pytest.raises(
        ModelError,
        match=r"services\[shop\]\.slos\[availability\]\.window: 7d is not longer than the longest alert window \(10d\)",
    ):
        alert_windows(slo("7d"), where="services[shop].", table=table)


# --- the recorded series ------------------------------------------------------------------------

NAMES: list[tuple[SLORecording, str, str]] = [
    (SLORecording.SLI_TOTAL, "", "slo:sli_total:rate5m"),
    (SLORecording.SLI_ERRORS, "", "slo:sli_errors:rate5m"),
    (SLORecording.SLI_ERROR, "30d", "slo:sli_error:ratio_rate30d"),
    (SLORecording.SLI_ERROR, "1h", "slo:sli_error:ratio_rate1h"),
    (SLORecording.OBJECTIVE, "", "slo:objective:ratio"),
    (SLORecording.ERROR_BUDGET, "", "slo:error_budget:ratio"),
    (SLORecording.TIME_PERIOD, "", "slo:time_period:days"),
    (SLORecording.PERIOD_BUDGET_REMAINING, "", "slo:period_error_budget_remaining:ratio"),
]


@pytest.mark.parametrize(("kind", "window", "name"), NAMES, ids=[n for _, _, n in NAMES])
def test_each_kind_of_recording_has_one_name_in_the_sloth_convention(
    kind: SLORecording, window: str, name: str
) -> None:
    # Renaming one is a change of what Prometheus stores: the history under the old name is lost.
    assert kind.series(window) == name
    assert kind.windowed == bool(window)


def test_a_windowed_recording_needs_a_window_and_the_others_refuse_one() -> None:
    with pytest.raises(ValueError, match="SLI_ERROR is recorded per window: pass one"):
        SLORecording.SLI_ERROR.series()
    with pytest.raises(ValueError, match="OBJECTIVE has no window \\(got '1h'\\)"):
        SLORecording.OBJECTIVE.series("1h")


def test_every_series_of_an_slo_carries_its_service_team_and_slo() -> None:
    shop = small_platform().service("shop")
    availability, latency = shop.slos
    assert recording_labels(shop, latency) == {"service": "shop", "team": "core", "slo": "latency"}
    labels = recording_labels(shop, availability)
    assert labels == {"service": "shop", "team": "core", "slo": "availability"}
    assert all(r == labels for r in recordings(shop, availability).values())


def test_an_slo_records_fourteen_series_no_more_than_sloth_records() -> None:
    shop = small_platform().service("shop")
    availability, latency = shop.slos
    assert list(recordings(shop, availability)) == [
        # Every evaluation: the 5m slices, the ratios under a day from the raw counters, the constants.
        "slo:sli_total:rate5m",
        "slo:sli_errors:rate5m",
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate30m",
        "slo:sli_error:ratio_rate1h",
        "slo:sli_error:ratio_rate2h",
        "slo:sli_error:ratio_rate6h",
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        # Every 2 minutes: the long windows summed from the slices, and the budget left.
        "slo:sli_error:ratio_rate1d",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate30d",
        "slo:period_error_budget_remaining:ratio",
    ]
    # Sloth records 15 per SLO (8 ratios, 7 metadata series); a latency SLO records the same kinds.
    assert len(recordings(shop, latency)) == 14 < 15
    assert "slo:sli_error:ratio_rate28d" in recordings(shop, latency)


@pytest.mark.parametrize(("window", "sliced_"), [("5m", False), ("6h", False), ("1d", True), ("3d", True), ("30d", True)])
def test_windows_of_a_day_and_more_are_summed_from_the_slices(window: str, sliced_: bool) -> None:
    assert sliced(window) is sliced_


@pytest.mark.parametrize(("window", "span"), [("1h", "59m59s"), ("1d", "23h59m59s"), ("3d", "2d23h59m59s")])
def test_a_summed_window_reads_one_second_less_so_it_counts_its_slices_once(window: str, span: str) -> None:
    assert range_just_under(window) == span


@pytest.mark.parametrize("platform", [edu, small_platform()], ids=["built-in", "shop"])
def test_the_rules_record_exactly_the_series_obs_slo_lists_in_its_order(platform: Platform) -> None:
    by_file = {f.name: f for f in rule_files(platform, platform.environments[0])}
    for service in platform.instrumented_services:
        for slo in service.slos:
            file = by_file[f"slo-{service.name}-{slo.name}"]
            recorded = [(r["record"], r["labels"]) for g in file.groups for r in g["rules"] if "record" in r]
            assert recorded == list(recordings(service, slo).items()), f"{service.name}/{slo.name}"
