"""Time scaling (obs.demo.timescale): what is divided, by how much, and what is left alone."""

from __future__ import annotations

import pytest

from obs.demo.timescale import TimeScaleError, scale, scale_alertmanager, scale_expr, scale_rule_file, seconds


@pytest.mark.parametrize(
    ("duration", "factor", "floor", "expected"),
    [
        ("5m", 30, 1, "10s"),
        ("1h", 30, 1, "2m"),
        ("30d", 30, 1, "1d"),
        ("1h30m", 30, 1, "3m"),
        ("2m", 60, 1, "2s"),
        ("5m", 600, 4, "4s"),  # the floor wins
        ("0s", 30, 1, "0s"),  # zero stays zero (no pending phase is kept as none)
        ("10m", 1, 1, "10m"),
    ],
)
def test_a_duration_is_divided_and_kept_above_its_floor(duration: str, factor: float, floor: int, expected: str) -> None:
    assert scale(duration, factor, floor) == expected


def test_compound_durations_are_read_whole() -> None:
    assert seconds("1h30m") == 5400
    assert seconds("500ms") == 0.5
    with pytest.raises(TimeScaleError, match="'5 minutes' is not a duration"):
        seconds("5 minutes")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(x[5m])", "rate(x[10s])"),
        ("sum(rate(x{a=\"b\"}[1h])) / sum(rate(x[1h]))", "sum(rate(x{a=\"b\"}[2m])) / sum(rate(x[2m]))"),
        ("max_over_time(rate(x[5m])[1h:5m])", "max_over_time(rate(x[10s])[2m:10s])"),
        ("max_over_time(up[1h:])", "max_over_time(up[2m:])"),
        ("x offset 1h", "x offset 2m"),
        ("x offset -30m", "x offset -1m"),
        # Durations inside strings and comments are not PromQL ranges: left as written.
        ('x{route="/api/[5m]"}[5m]', 'x{route="/api/[5m]"}[10s]'),
        ("x{route='a[1h]'} # over [1h]\n + y[1h]", "x{route='a[1h]'} # over [1h]\n + y[2m]"),
        ("x > 0.05", "x > 0.05"),
    ],
)
def test_ranges_subqueries_and_offsets_are_scaled_outside_strings(expr: str, expected: str) -> None:
    assert scale_expr(expr, 30, 4) == expected


def test_a_range_keeps_four_scrape_intervals() -> None:
    assert scale_expr("rate(x[1m])", 60, 4) == "rate(x[4s])"


def test_rule_files_scale_expr_for_keep_firing_for_and_group_interval_and_keep_everything_else() -> None:
    rule = {
        "alert": "HighErrorRate",
        "expr": "rate(errors[5m]) > 0.05",
        "for": "5m",
        "keep_firing_for": "10m",
        "labels": {"severity": "page", "long_window": "1h"},
        "annotations": {"summary": "over the last 5m"},
    }
    document = {"groups": [{"name": "g", "interval": "1m", "rules": [rule, {"record": "r:rate5m", "expr": "rate(x[5m])"}]}]}
    scaled = scale_rule_file(document, 30, 4)
    assert scaled == {
        "groups": [
            {
                "name": "g",
                "interval": "2s",
                "rules": [
                    {**rule, "expr": "rate(errors[10s]) > 0.05", "for": "10s", "keep_firing_for": "20s"},
                    {"record": "r:rate5m", "expr": "rate(x[10s])"},
                ],
            }
        ]
    }
    assert document["groups"][0]["rules"][0]["for"] == "5m"  # the input is not changed


def test_alertmanager_route_timings_and_resolve_timeout_are_scaled_everywhere_in_the_tree() -> None:
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "log",
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"receiver": "heartbeat", "group_interval": "1m", "repeat_interval": "1m", "group_wait": "0s"}, {"receiver": "chat"}],
        },
        "receivers": [{"name": "log"}],
    }
    assert scale_alertmanager(config, 30) == {
        "global": {"resolve_timeout": "10s"},
        "route": {
            "receiver": "log",
            "group_wait": "1s",
            "group_interval": "10s",
            "repeat_interval": "8m",
            "routes": [{"receiver": "heartbeat", "group_interval": "2s", "repeat_interval": "2s", "group_wait": "0s"}, {"receiver": "chat"}],
        },
        "receivers": [{"name": "log"}],
    }
