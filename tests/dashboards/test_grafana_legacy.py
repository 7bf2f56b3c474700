"""Dashboards teams already wrote with grafanalib: loaded like grafanalib's generator loads them,
normalized to Grafana 11 datasources, then checked and provisioned like ours."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from edu_platform import platform as edu
from obs.builder import render
from obs.errors import ModelError, PromQLError, RenderError
from obs.grafana import legacy
from obs.grafana.provisioning import ELASTICSEARCH_UID
from obs.model import Platform, Team

GOOD_QUERY = 'sum(rate(http_server_request_duration_seconds_count{service="backend"}[5m]))'


def _module(folder: Path, name: str, *, uid: str = "learning-queue", datasource: str = "Prometheus", expr: str = GOOD_QUERY,
            description: str = "Requests per second; if flat zero, check the load balancer.", tags: tuple[str, ...] = (),
            define: str = "dashboard") -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.dashboard.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from grafanalib.core import Dashboard, GridPos, Target, TimeSeries

            {define} = Dashboard(
                title="Backend queue",
                uid={uid!r},
                tags={list(tags)!r},
                panels=[
                    TimeSeries(
                        title="Requests",
                        description={description!r},
                        dataSource={datasource!r},
                        targets=[Target(expr={expr!r}, legendFormat="rps", refId="A")],
                        unit="reqps",
                        gridPos=GridPos(h=8, w=12, x=0, y=0),
                    ),
                ],
            ).auto_panel_ids()
            """
        )
    )
    return path


def _build(tmp_path: Path, base: Platform = edu) -> dict[str, Any]:
    platform = dataclasses.replace(base, alerts=(), rule_tests=(), dashboards=("legacy",))
    result = render(platform, environments=["prod"], groups=["grafana"], root=tmp_path)
    return {path: data for path, data in result.files.items()}


def test_a_grafanalib_dashboard_is_provisioned_in_its_team_folder(tmp_path: Path) -> None:
    _module(tmp_path / "legacy" / "learning", "queue")
    files = _build(tmp_path)
    data = json.loads(files["prod/grafana/dashboards/learning/learning-queue.json"])
    panel = data["panels"][0]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert "datasource" not in panel["targets"][0]
    assert data["templating"]["list"][0]["name"] == "datasource"
    assert data["id"] is None


def test_a_team_tag_chooses_the_folder(tmp_path: Path) -> None:
    _module(tmp_path / "legacy" / "misc", "queue", tags=("team:integrations",))
    assert "prod/grafana/dashboards/integrations/learning-queue.json" in _build(tmp_path)


def test_a_dashboard_of_no_team_goes_to_the_infra_teams_folder(tmp_path: Path) -> None:
    _module(tmp_path / "legacy" / "misc", "queue")
    assert "prod/grafana/dashboards/platform/learning-queue.json" in _build(tmp_path)
    sre = dataclasses.replace(edu, infra_team="sre", teams=(*edu.teams, Team("sre", chat_channel="#sre")))
    assert "prod/grafana/dashboards/sre/learning-queue.json" in _build(tmp_path, sre)


@pytest.mark.parametrize(
    ("datasource", "expected"),
    [
        ("Prometheus", {"type": "prometheus", "uid": "${datasource}"}),
        ("default", {"type": "prometheus", "uid": "${datasource}"}),
        ("$datasource", {"type": "prometheus", "uid": "${datasource}"}),
        ("Elasticsearch", {"type": "elasticsearch", "uid": ELASTICSEARCH_UID}),
    ],
)
def test_string_datasources_become_objects(datasource: str, expected: dict[str, str]) -> None:
    data = legacy.normalize(
        {
            "panels": [
                {"id": 1, "datasource": datasource, "targets": [{"datasource": datasource, "expr": "up"}]}
            ]
        }
    )
    assert data["panels"][0]["datasource"] == expected
    assert data["panels"][0]["targets"][0]["datasource"] == expected


@pytest.mark.parametrize(("display_mode", "shown"), [("list", True), ("table", True), ("hidden", False)])
def test_the_legend_is_read_the_way_grafanas_migration_reads_it(display_mode: str, shown: bool) -> None:
    data = legacy.normalize({"panels": [{"id": 1, "options": {"legend": {"displayMode": display_mode}}}]})
    assert data["panels"][0]["options"]["legend"]["showLegend"] is shown


def test_a_legacy_query_on_an_unknown_metric_stops_the_build_naming_the_file(tmp_path: Path) -> None:
    _module(tmp_path / "legacy" / "learning", "queue", expr="sum(rate(http_requests_total[5m]))")
    with pytest.raises(
        PromQLError,
        match=r"queue\.dashboard\.py panel 1 'Requests' query A: unknown metric 'http_requests_total'",
    ):
        _build(tmp_path)


def test_a_legacy_panel_failing_the_lint_stops_the_build_naming_the_file(tmp_path: Path) -> None:
    path = _module(tmp_path / "legacy" / "learning", "queue", description="")
    with pytest.raises(RenderError, match=rf"panel 1 'Requests': has no description.*\(from {path.relative_to(tmp_path)}\)"):
        _build(tmp_path)


def test_a_legacy_dashboard_may_not_take_a_generated_uid(tmp_path: Path) -> None:
    _module(tmp_path / "legacy" / "learning", "queue", uid="obs-overview")
    with pytest.raises(
        RenderError, match=r"'obs-overview' of legacy/learning/queue\.dashboard\.py is already used by obs catalogue"
    ):
        _build(tmp_path)


@pytest.mark.parametrize(
    ("define", "message"),
    [
        ("board", "defines no module-level `dashboard`"),
        ("dashboard = 1/0; x", "failed to import: ZeroDivisionError"),
    ],
)
def test_a_module_grafanalib_could_not_load_is_a_clear_error(
    tmp_path: Path, define: str, message: str
) -> None:
    _module(tmp_path / "legacy" / "learning", "queue", define=define)
    with pytest.raises(ModelError, match=r"legacy/learning/queue\.dashboard\.py: .*" + message):
        _build(tmp_path)


def test_a_missing_dashboard_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"dashboards: 'legacy' does not exist"):
        _build(tmp_path)


def test_preview_finds_a_legacy_dashboard_by_uid(tmp_path: Path) -> None:
    from obs.content import load_content
    from obs.preview import dashboard_json

    _module(tmp_path / "legacy" / "learning", "queue")
    platform = dataclasses.replace(edu, alerts=(), rule_tests=(), dashboards=("legacy",))
    content = load_content(platform, platform.environments[0], tmp_path)
    data = dashboard_json(platform, platform.environments[0], "learning-queue", content)
    assert data["panels"][0]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def _logs_module(folder: Path, *, datasource: str = "Elasticsearch logs", uid_override: str = "") -> Path:
    """A grafanalib dashboard of the kind docs/dashboards.md promises: a text panel and a panel on
    the shared Elasticsearch datasource (Lucene, not PromQL)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "logs.dashboard.py"
    override = f"\ndashboard.panels[1].dataSource = {{'type': 'elasticsearch', 'uid': {uid_override!r}}}" if uid_override else ""
    path.write_text(
        textwrap.dedent(
            f"""
            from grafanalib.core import Dashboard, GridPos, Text, TimeSeries
            from grafanalib.elasticsearch import CountMetricAgg, DateHistogramGroupBy, ElasticsearchTarget

            dashboard = Dashboard(
                title="Backend logs",
                uid="learning-logs",
                panels=[
                    Text(title="Read me", content="Error lines of backend.", gridPos=GridPos(h=3, w=24, x=0, y=0)),
                    TimeSeries(
                        title="Error lines",
                        description="Error log lines per minute: a jump is worth opening the logs.",
                        dataSource={datasource!r},
                        unit="short",
                        targets=[ElasticsearchTarget(query='service.name:"backend" AND log.level:error',
                                                     metricAggs=[CountMetricAgg()], bucketAggs=[DateHistogramGroupBy()])],
                        gridPos=GridPos(h=8, w=24, x=0, y=3),
                    ),
                ],
            ).auto_panel_ids()
            """
        )
        + override
    )
    return path


def test_text_panels_and_elasticsearch_panels_pass_as_the_docs_promise(tmp_path: Path) -> None:
    _logs_module(tmp_path / "legacy" / "learning")
    data = json.loads(_build(tmp_path)["prod/grafana/dashboards/learning/learning-logs.json"])
    text, errors = data["panels"]
    assert text["type"] == "text" and "datasource" not in text and "targets" not in text
    assert errors["datasource"] == {"type": "elasticsearch", "uid": ELASTICSEARCH_UID}


def test_an_elasticsearch_panel_must_use_the_provisioned_uid(tmp_path: Path) -> None:
    """A hard-wired uid that no environment provisions would show an error panel to on-call."""
    _logs_module(tmp_path / "legacy" / "learning", uid_override="my-es")
    with pytest.raises(RenderError, match=r"panel 2 'Error lines': datasource .*'my-es'.* nor a shared datasource"):
        _build(tmp_path)
