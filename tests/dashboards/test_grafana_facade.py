"""The facade: panels refuse what the lint would refuse, ids are stable, queries say where they sit,
and the JSON is what Grafana reads (and what the Foundation SDK itself decodes)."""

from __future__ import annotations

from typing import Any

import pytest

from obs.grafana import (
    AUTO_ID_BASE,
    Dashboard,
    Link,
    Target,
    Thresholds,
    ValueText,
    custom_variable,
    datasource_variable,
    heatmap,
    query_variable,
    row,
    stat,
    table,
    timeseries,
)


def _ts(title: str = "Requests", **options: Any):  # type: ignore[no-untyped-def]
    return timeseries(title, Target("up"), description="What it means; what to do.", unit="short", **options)


def _dashboard(*items: Any, **options: Any) -> Dashboard:
    return Dashboard("uid-x", "X", "About X.", "team-a", tuple(items), **options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"description": "", "unit": "s"}, "needs a description"),
        ({"description": "  ", "unit": "s"}, "needs a description"),
        ({"description": "d", "unit": ""}, "needs a unit"),
        ({"description": "d", "unit": "s", "width": 25}, "width must be"),
        ({"description": "d", "unit": "s", "height": 0}, "height at least 1"),
    ],
)
def test_a_panel_without_what_on_call_needs_is_refused_when_built(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        timeseries("Latency", Target("up"), **kwargs)


def test_a_panel_without_a_query_is_refused() -> None:
    with pytest.raises(ValueError, match="needs at least one query"):
        timeseries("Latency", description="d", unit="s")


def test_pinned_ids_are_kept_and_the_others_count_from_the_auto_base() -> None:
    d = _dashboard(_ts("a", id=4), row("r", _ts("b"), _ts("c", id=1)), _ts("d"))
    ids = [(item.title, ident) for item, ident, _ in d.placed()]
    assert ids == [("a", 4), ("r", AUTO_ID_BASE), ("b", AUTO_ID_BASE + 1), ("c", 1), ("d", AUTO_ID_BASE + 2)]


def test_adding_a_pinned_panel_does_not_renumber_the_others() -> None:
    before = {i.title: n for i, n, _ in _dashboard(_ts("a"), _ts("b")).placed()}
    after = {i.title: n for i, n, _ in _dashboard(_ts("new", id=7), _ts("a"), _ts("b")).placed()}
    assert before == {k: v for k, v in after.items() if k != "new"}


def test_a_pinned_id_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"panel ids \[3\] are used twice"):
        _dashboard(_ts("a", id=3), _ts("b", id=3)).placed()


def test_queries_name_dashboard_panel_and_ref_id() -> None:
    d = _dashboard(timeseries("Two", Target("up"), Target("vector(1)"), description="d", unit="s", id=2))
    assert [q.where for q in d.queries()] == [
        "dashboard uid-x panel 2 'Two' query A",
        "dashboard uid-x panel 2 'Two' query B",
    ]


def test_every_panel_and_query_reads_the_datasource_variable() -> None:
    data = _dashboard(
        _ts(),
        row(
            "r",
            table("t", Target("up", instant=True, format="table"), description="d", unit="s"),
            collapsed=True,
        ),
    ).to_json()
    panels = [data["panels"][0], data["panels"][1]["panels"][0]]
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])


def test_collapsed_rows_hold_their_panels_and_open_rows_do_not() -> None:
    data = _dashboard(row("open", _ts("a")), row("shut", _ts("b"), collapsed=True)).to_json()
    assert [(p["type"], p["title"]) for p in data["panels"]] == [
        ("row", "open"),
        ("timeseries", "a"),
        ("row", "shut"),
    ]
    assert [p["title"] for p in data["panels"][2]["panels"]] == ["b"]


def test_per_query_thresholds_become_overrides_by_ref_id() -> None:
    panel = stat(
        "SLO",
        Target("vector(1)", "availability", thresholds=Thresholds.below(0.999)),
        Target("vector(1)", "latency", thresholds=Thresholds.below(0.99)),
        description="d",
        unit="percentunit",
    )
    overrides = _dashboard(panel).to_json()["panels"][0]["fieldConfig"]["overrides"]
    assert [(o["matcher"], o["properties"][0]["value"]["steps"][1]["value"]) for o in overrides] == [
        ({"id": "byFrameRefID", "options": "A"}, 0.999),
        ({"id": "byFrameRefID", "options": "B"}, 0.99),
    ]


@pytest.mark.parametrize("coloured", [True, False])
def test_a_table_with_thresholds_colours_its_number_cells(coloured: bool) -> None:
    """Grafana's table applies thresholds only in a colour cell type: without one, a table whose
    description promises orange and red shows neither."""
    thresholds = {"thresholds": Thresholds.below(7, 21)} if coloured else {}
    panel = table("t", Target("up", instant=True, format="table"), description="d", unit="d", **thresholds)
    overrides = _dashboard(panel).to_json()["panels"][0]["fieldConfig"].get("overrides", [])
    colour = {
        "matcher": {"id": "byType", "options": "number"},
        "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background"}}],
    }
    assert (colour in overrides) is coloured


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (Thresholds.above(0.8, 0.9), [(None, "green"), (0.8, "orange"), (0.9, "red")]),
        (Thresholds.above(None, 0.3), [(None, "green"), (0.3, "red")]),
        (Thresholds.below(1), [(None, "red"), (1, "green")]),
        (Thresholds.below(0.0, 0.25), [(None, "red"), (0.0, "orange"), (0.25, "green")]),
    ],
)
def test_threshold_helpers(thresholds: Thresholds, expected: list[tuple[float | None, str]]) -> None:
    assert [(s.value, s.color) for s in thresholds.steps] == expected


def test_exemplars_heatmap_format_links_and_value_texts_reach_the_json() -> None:
    d = _dashboard(
        heatmap(
            "H",
            Target("sum by (le) (x_bucket)", "{{le}}", exemplar=True, format="heatmap"),
            description="d",
            id=5,
        ),
        stat(
            "Up",
            Target("up"),
            description="d",
            unit="short",
            value_texts=(ValueText("0", "DOWN", "red"),),
            links=(Link("Logs", "/explore"),),
        ),
    )
    heat, up = d.to_json()["panels"]
    assert heat["targets"][0] | {"exemplar": True, "format": "heatmap"} == heat["targets"][0]
    assert heat["options"]["legend"]["show"] is True
    assert up["fieldConfig"]["defaults"]["mappings"][0]["options"]["0"]["text"] == "DOWN"
    assert up["fieldConfig"]["defaults"]["links"] == [
        {"title": "Logs", "url": "/explore", "targetBlank": True}
    ]


def test_variables() -> None:
    d = _dashboard(
        _ts(),
        variables=(
            datasource_variable("prometheus-prod"),
            custom_variable("service", "Service", ["a", "b"]),
            query_variable(
                "route", "Route", "label_values(up, route)", multi=True, include_all=True, all_value=".*"
            ),
        ),
    )
    ds, svc, route = d.to_json()["templating"]["list"]
    assert (ds["type"], ds["query"], ds["current"]["value"]) == (
        "datasource",
        "prometheus",
        "prometheus-prod",
    )
    assert (svc["query"], svc["current"]["value"]) == ("a,b", "a")
    assert (route["datasource"]["uid"], route["allValue"], route["multi"]) == ("${datasource}", ".*", True)


def test_the_foundation_sdk_decodes_what_we_emit() -> None:
    # The SDK is the emitter; this checks we did not write anything it cannot read back.
    from grafana_foundation_sdk.models.dashboard import Dashboard as SDKDashboard

    data = _dashboard(_ts(id=1), row("r", _ts("b")), variables=(datasource_variable("p"),)).to_json()
    decoded = SDKDashboard.from_json(data)
    assert decoded.uid == "uid-x"
    assert decoded.panels is not None and len(decoded.panels) == 3


def test_a_uid_longer_than_grafana_allows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.40 characters"):
        Dashboard("x" * 41, "X", "d", "t", (_ts(),))


def test_annotations_are_prometheus_queries_on_the_datasource_variable_and_are_contract_checked() -> None:
    from obs.grafana import Annotation

    d = _dashboard(
        _ts(), annotations=(Annotation("Deploys", "changes(process_start_time_seconds[1m]) > 0", "restart"),)
    )
    builtin, deploys = d.to_json()["annotations"]["list"]
    assert builtin["builtIn"] == 1
    assert (deploys["expr"], deploys["datasource"], deploys["titleFormat"]) == (
        "changes(process_start_time_seconds[1m]) > 0",
        {"type": "prometheus", "uid": "${datasource}"},
        "restart",
    )
    assert d.queries()[-1].where == "dashboard uid-x annotation 'Deploys'"
