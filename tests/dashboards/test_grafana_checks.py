"""The checks that stand in for a Grafana: the JSON Schema and the lint, on any dashboard JSON.

Each case breaks one thing in a valid dashboard and expects a message naming the dashboard and
the panel, because that message is all a reviewer sees when the build stops.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from obs.grafana import Dashboard, Target, datasource_variable, heatmap, row, stat, timeseries
from obs.grafana.lint import lint
from obs.grafana.schema import validate

Mutation = Callable[[dict[str, Any]], None]


def _valid() -> dict[str, Any]:
    return Dashboard(
        "dash-1",
        "Dash",
        "About.",
        "team-a",
        (
            stat("Up", Target("up"), description="Whether it is up; if not, restart it.", unit="short", id=1),
            row(
                "Details",
                timeseries(
                    "Rate",
                    Target("rate(x_total[5m])"),
                    description="Requests; check the logs.",
                    unit="reqps",
                    id=2,
                ),
                heatmap(
                    "Heat",
                    Target("sum by (le) (x_bucket)", format="heatmap"),
                    description="Latency spread; open a trace.",
                    id=3,
                ),
            ),
        ),
        variables=(datasource_variable("prometheus-prod"),),
    ).to_json()


def _panel(d: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in d["panels"] if p.get("title") == title)


def test_a_valid_dashboard_passes_both() -> None:
    assert validate(_valid()) == []
    assert lint(_valid()) == []


LINT_CASES: list[tuple[str, Mutation, str]] = [
    (
        "duplicate id",
        lambda d: _panel(d, "Rate").update(id=1),
        "dashboard dash-1 panel 1 'Rate': reuses the id of panel 1 'Up'",
    ),
    (
        "missing id",
        lambda d: _panel(d, "Rate").pop("id"),
        "has no integer id (grafanalib: call dashboard.auto_panel_ids())",
    ),
    (
        "overlap",
        lambda d: _panel(d, "Heat").update(gridPos={"x": 6, "y": 6, "w": 12, "h": 8}),
        "dashboard dash-1 panel 3 'Heat': overlaps panel 2 'Rate'",
    ),
    (
        "off the grid",
        lambda d: _panel(d, "Rate").update(gridPos={"x": 20, "y": 60, "w": 8, "h": 8}),
        "does not fit the 24-column grid",
    ),
    (
        "no unit",
        lambda d: _panel(d, "Rate")["fieldConfig"]["defaults"].pop("unit"),
        "panel 2 'Rate': has no unit",
    ),
    ("no description", lambda d: _panel(d, "Up").update(description=""), "panel 1 'Up': has no description"),
    ("no title", lambda d: _panel(d, "Up").update(title=" "), "has no title"),
    (
        "hard-wired datasource",
        lambda d: _panel(d, "Rate").update(datasource={"type": "prometheus", "uid": "prometheus-prod"}),
        "panel 2 'Rate': datasource {'type': 'prometheus', 'uid': 'prometheus-prod'} is not a template variable",
    ),
    (
        "hard-wired query datasource",
        lambda d: _panel(d, "Rate")["targets"][0].update(datasource={"type": "prometheus", "uid": "abc"}),
        "query A uses datasource",
    ),
    (
        "hidden legend",
        lambda d: _panel(d, "Rate")["options"]["legend"].update(showLegend=False),
        "panel 2 'Rate': hides its legend",
    ),
    (
        "hidden heatmap legend",
        lambda d: _panel(d, "Heat")["options"]["legend"].update(show=False),
        "panel 3 'Heat': hides its legend",
    ),
    ("no query", lambda d: _panel(d, "Up").update(targets=[]), "panel 1 'Up': has no query"),
    ("no dashboard uid", lambda d: d.update(uid=""), "has no uid"),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in LINT_CASES], ids=[c[0] for c in LINT_CASES])
def test_lint_names_the_dashboard_the_panel_and_the_problem(mutate: Mutation, message: str) -> None:
    data = _valid()
    mutate(data)
    problems = [str(p) for p in lint(data)]
    assert any(message in p for p in problems), problems


def test_panels_inside_a_collapsed_row_are_linted_too() -> None:
    data = Dashboard(
        "d",
        "D",
        "About.",
        "t",
        (row("r", timeseries("Inner", Target("up"), description="d d d", unit="s", id=9), collapsed=True),),
    ).to_json()
    data["panels"][0]["panels"][0]["fieldConfig"]["defaults"].pop("unit")
    assert [str(p) for p in lint(data)] == [
        "dashboard d panel 9 'Inner': has no unit (fieldConfig.defaults.unit)"
    ]


SCHEMA_CASES: list[tuple[str, Mutation, str]] = [
    (
        "legacy string datasource",
        lambda d: _panel(d, "Up").update(datasource="Prometheus"),
        "panels/0/datasource: 'Prometheus' is not of type 'object'",
    ),
    (
        "query without refId",
        lambda d: _panel(d, "Up")["targets"][0].pop("refId"),
        "'refId' is a required property",
    ),
    ("empty expression", lambda d: _panel(d, "Up")["targets"][0].update(expr=""), "should be non-empty"),
    ("too wide", lambda d: _panel(d, "Up")["gridPos"].update(w=25), "25 is greater than the maximum of 24"),
    ("unknown panel type", lambda d: _panel(d, "Up").update(type="graph3d"), "'graph3d' is not one of"),
    ("bad uid", lambda d: d.update(uid="has space"), "does not match"),
    (
        "threshold base not null",
        lambda d: _panel(d, "Up")["fieldConfig"]["defaults"].update(
            thresholds={"mode": "absolute", "steps": [{"value": 1, "color": "red"}]}
        ),
        "1 is not of type 'null'",
    ),
    ("annotations as object", lambda d: d.update(annotations={}), "'list' is a required property"),
    (
        "query variable without datasource",
        lambda d: d["templating"]["list"].append({"name": "x", "type": "query", "query": "up"}),
        "'datasource' is a required property",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES]
)
def test_schema_rejects_what_grafana_would_drop(mutate: Mutation, message: str) -> None:
    data = copy.deepcopy(_valid())
    mutate(data)
    errors = validate(data)
    assert any(message in e for e in errors), errors
