"""The burn-rate window table: data from the SRE workbook, factors that follow the SLO window."""

from __future__ import annotations

import pytest

from obs.errors import ModelError
from obs.model import SLO, AvailabilitySLI
from obs.slo import BurnRateWindow, alert_windows, recording_windows, window_table


def slo(window: str = "30d", page: bool = True) -> SLO:
    return SLO("availability", AvailabilitySLI(), 0.999, window=window, page=page)


def test_the_table_is_the_workbooks_two_pages_and_two_tickets() -> None:
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
    table = (BurnRateWindow("slow", "ticket", 10, "10d", "1d", "1h"),)
    with pytest.raises(
        ModelError,
        match=r"services\[shop\]\.slos\[availability\]\.window: 7d is not longer than the longest alert window \(10d\)",
    ):
        alert_windows(slo("7d"), where="services[shop].", table=table)
