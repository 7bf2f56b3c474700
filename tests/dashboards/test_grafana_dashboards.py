"""The generated dashboards, as on-call sees them: the uids and panel ids alerts link to, SLO
thresholds taken from the model, every query on contract metrics, links to traces and logs."""

from __future__ import annotations

import dataclasses
import re
from enum import IntEnum
from typing import Any
from urllib.parse import unquote

import pytest

from edu_platform import platform as edu
from obs import contract, links
from obs.builder import render_environment, select_groups
from obs.catalogue.dashboards import dashboards
from obs.catalogue.dashboards.queries import selector
from obs.catalogue.dashboards.queries import slo_burn_rate as burn_rate
from obs.catalogue.dashboards.recordings import slo_recordings
from obs.errors import RenderError
from obs.grafana.lint import iter_panels, lint
from obs.grafana.schema import validate
from obs.model import SLO, AvailabilitySLI, LatencySLI, Platform
from obs.promql import check_queries, selected_metrics, substitute_grafana_variables
from obs.slo import SLORecording, alert_windows
from tests.dashboards.grafana_support import dashboards_json, panels_by_id

PINNED: list[tuple[str, type[IntEnum]]] = [
    (links.service_dashboard_uid("backend"), links.ServicePanel),
    (links.service_dashboard_uid("bridge"), links.ServicePanel),
    (links.SLO_UID, links.SLOPanel),
    (links.POSTGRES_UID, links.PostgresPanel),
    (links.REDIS_UID, links.RedisPanel),
    (links.NODE_UID, links.NodePanel),
    (links.BLACKBOX_UID, links.BlackboxPanel),
    (links.ALERTS_UID, links.AlertsPanel),
]


def test_the_built_in_platform_gets_every_dashboard_of_the_issue() -> None:
    assert set(dashboards_json()) == {
        links.OVERVIEW_UID,
        links.SLO_UID,
        "obs-svc-backend",
        "obs-svc-bridge",
        links.POSTGRES_UID,
        links.REDIS_UID,
        links.NODE_UID,
        links.BLACKBOX_UID,
        links.ALERTS_UID,
    }


@pytest.mark.parametrize(("uid", "panels"), PINNED, ids=[u for u, _ in PINNED])
def test_every_panel_an_alert_can_link_to_exists_under_its_pinned_id(uid: str, panels: type[IntEnum]) -> None:
    by_id = panels_by_id(dashboards_json()[uid])
    for member in panels:
        assert int(member) in by_id, f"{uid} has no panel {member.name} (id {int(member)})"
    titles = {by_id[int(m)]["title"] for m in panels}
    assert len(titles) == len(panels), "two pinned ids point at the same panel"


@pytest.mark.parametrize(
    ("member", "title_pattern"),
    [
        (links.ServicePanel.REQUEST_RATE, "Requests"),
        (links.ServicePanel.ERROR_RATIO, "Error ratio"),
        (links.ServicePanel.ERRORS_BY_STATUS, "Errors by status"),
        (links.ServicePanel.LATENCY_PERCENTILES, "Latency percentiles"),
        (links.ServicePanel.LATENCY_HEATMAP, "heatmap"),
        (links.ServicePanel.IN_FLIGHT, "In-flight"),
        (links.ServicePanel.SLOWEST_ROUTES, "Slowest routes"),
        (links.ServicePanel.SLO_STATUS, "SLO"),
        (links.ServicePanel.ERROR_BUDGET, "budget"),
        (links.ServicePanel.BURN_RATE, "Burn rate"),
        (links.ServicePanel.TARGET_UP, "up"),
        (links.ServicePanel.INSTRUMENTATION_ERRORS, "Instrumentation"),
    ],
)
def test_pinned_service_panels_show_what_their_name_says(
    member: links.ServicePanel, title_pattern: str
) -> None:
    panel = panels_by_id(dashboards_json()["obs-svc-backend"])[int(member)]
    assert re.search(title_pattern, panel["title"], re.IGNORECASE), panel["title"]


@pytest.mark.parametrize("env", [e.name for e in edu.environments])
def test_every_dashboard_passes_schema_and_lint(env: str) -> None:
    for uid, data in dashboards_json(env=env).items():
        assert validate(data) == [], uid
        assert [str(p) for p in lint(data)] == [], uid


def test_every_query_passes_the_contract_check() -> None:
    pairs = [(d.uid, q) for d in dashboards(edu, edu.environments[0]) for q in d.queries()]
    assert len(pairs) > 80
    assert check_queries(pairs, contract.known_series_names()) == []


def _recorded_by_the_rules(platform: Platform = edu) -> frozenset[str]:
    env = platform.environments[0]
    rendered = render_environment(platform, env, select_groups(["rules"]))
    return frozenset(r for a in rendered["rules"] for r in a.records)


def test_every_recording_a_dashboard_reads_is_recorded_by_the_rules_of_the_build() -> None:
    # Without the names the dashboards declare: only the contract and the build's own rules.
    pairs = [
        (d.uid, dataclasses.replace(q, declared=frozenset()))
        for d in dashboards(edu, edu.environments[0])
        for q in d.queries()
    ]
    read = {
        n for _, q in pairs for n in selected_metrics(substitute_grafana_variables(q.expr))[0] if ":" in n
    }
    assert read >= {
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate1h",
        "slo:error_budget:ratio",
        "slo:period_error_budget_remaining:ratio",
        "slo:sli_error:ratio_rate30d",
    }
    # Burn rates are computed where they are read, never recorded.
    assert not any(n.startswith(("slo:burn_rate:", "slo:period_burn_rate:")) for n in read), sorted(read)
    assert check_queries(pairs, contract.known_series_names() | _recorded_by_the_rules()) == []


#: A burn rate: a window's recorded error ratio divided by the recorded budget (nothing records it).
BURN = r"^slo:sli_error:ratio_rate\d+[mhd]\{[^}]*\} / on \(service, slo\) group_left slo:error_budget:ratio\{[^}]*\}$"
SLO_PANELS: list[tuple[str, int, str]] = [
    ("obs-svc-backend", links.ServicePanel.SLO_STATUS, r"^1 - slo:sli_error:ratio_rate30d\{[^}]*\}$"),
    ("obs-svc-backend", links.ServicePanel.ERROR_BUDGET, r"^slo:period_error_budget_remaining:ratio\{[^}]*\}$"),
    ("obs-svc-backend", links.ServicePanel.BURN_RATE, BURN),
    (links.SLO_UID, links.SLOPanel.BUDGET_REMAINING, r"^slo:period_error_budget_remaining:ratio\{[^}]*\}$"),
    (links.SLO_UID, links.SLOPanel.BUDGET_BURN, r"^1 - slo:period_error_budget_remaining:ratio\{[^}]*\}$"),
    (links.SLO_UID, links.SLOPanel.BURN_RATE_WINDOWS, BURN),
]


@pytest.mark.parametrize(
    ("uid", "panel_id", "expr_pattern"), SLO_PANELS, ids=[f"{u}-{i}" for u, i, _ in SLO_PANELS]
)
def test_slo_panels_read_the_recordings_and_no_raw_request_metric(
    uid: str, panel_id: int, expr_pattern: str
) -> None:
    targets = panels_by_id(dashboards_json()[uid])[panel_id]["targets"]
    assert targets
    for target in targets:
        assert re.fullmatch(expr_pattern, target["expr"]), target["expr"]
        assert "http_server_request_duration" not in target["expr"] and "increase(" not in target["expr"]


def test_burn_rates_divide_each_window_by_the_budget_of_the_same_slo() -> None:
    backend = edu.service("backend")
    panel = panels_by_id(dashboards_json()["obs-svc-backend"])[links.ServicePanel.BURN_RATE]
    expected = [
        f"{selector(f'slo:sli_error:ratio_rate{w}', labels)} / on (service, slo) group_left "
        f"{selector('slo:error_budget:ratio', labels)}"
        for slo in backend.slos
        for labels in [slo_recordings(backend, slo).recorded["slo:error_budget:ratio"]]
        for w in ("1h", "5m")
    ]
    assert [t["expr"] for t in panel["targets"]] == expected


def test_overview_slo_panels_read_the_recordings_and_traffic_panels_the_raw_metrics() -> None:
    by_title: dict[str, list[str]] = {}
    for panel in iter_panels(dashboards_json()[links.OVERVIEW_UID]):
        by_title.setdefault(panel["title"], []).extend(t["expr"] for t in panel.get("targets", []))
    for title in ("SLO attainment", "Budget left", "Burn rate 1h"):
        assert all(e.startswith(("slo:", "1 - slo:")) for e in by_title[title]), title
    for title, metric in (
        ("Traffic", "http_server_requests_total"),
        ("Errors", "http_server_requests_total"),
        ("p95 latency", "http_server_request_duration_seconds_bucket"),
    ):
        assert all(metric in e for e in by_title[title]), title


def test_slo_queries_select_each_recording_by_the_labels_its_rule_puts_on_it() -> None:
    backend = edu.service("backend")
    panel = panels_by_id(dashboards_json()["obs-svc-backend"])[links.ServicePanel.SLO_STATUS]
    for slo, target in zip(backend.slos, panel["targets"], strict=True):
        name = SLORecording.SLI_ERROR.series(slo.window)
        labels = slo_recordings(backend, slo).recorded[name]
        assert name == f"slo:sli_error:ratio_rate{slo.window}"
        assert target["expr"] == "1 - " + selector(name, labels)
        assert labels[contract.SERVICE_LABEL] == "backend" and labels["slo"] == slo.name


def test_a_recording_the_rules_do_not_record_breaks_the_build_not_the_panel() -> None:
    backend = edu.service("backend")
    recorded = slo_recordings(backend, backend.slos[0])
    with pytest.raises(
        RenderError,
        match=r"services\[backend\]\.slos\[availability\]: reads the recording 'slo:sli_error:ratio_rate7m', "
        r"which the rules do not record for this SLO \(obs.slo.recordings\); did you mean",
    ):
        burn_rate(recorded, "7m")
    with pytest.raises(RenderError, match="has no label nope to filter on"):
        burn_rate(recorded, "1h", ("nope",))


def test_the_environment_is_picked_by_the_prometheus_datasource_and_defaults_to_the_build() -> None:
    for env in edu.environments:
        for uid, data in dashboards_json(env=env.name).items():
            ds = data["templating"]["list"][0]
            assert (ds["name"], ds["type"], ds["current"]["value"]) == (
                "datasource",
                "datasource",
                f"prometheus-{env.name}",
            ), uid
            # The environment label is external: no query may filter on it inside Prometheus.
            for panel in iter_panels(data):
                for target in panel.get("targets") or []:
                    assert contract.ENVIRONMENT_LABEL not in target["expr"], (uid, panel["title"])


def test_service_dashboard_is_templated_by_service_and_route() -> None:
    data = dashboards_json()["obs-svc-backend"]
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert set(variables) == {"datasource", "service", "route", "environment"}
    assert variables["service"]["current"]["value"] == "backend"
    assert variables["route"]["allValue"] == ".*" and variables["route"]["includeAll"] is True
    request_rate = panels_by_id(data)[links.ServicePanel.REQUEST_RATE]
    assert 'service="$service"' in request_rate["targets"][0]["expr"]
    assert 'http_route=~"$route"' in request_rate["targets"][0]["expr"]


def _override_steps(panel: dict[str, Any]) -> list[list[tuple[float | None, str]]]:
    return [
        [(s["value"], s["color"]) for s in o["properties"][0]["value"]["steps"]]
        for o in panel["fieldConfig"]["overrides"]
    ]


def test_slo_thresholds_come_from_each_objective() -> None:
    panel = panels_by_id(dashboards_json()["obs-svc-backend"])[links.ServicePanel.SLO_STATUS]
    backend = edu.service("backend")
    assert _override_steps(panel) == [[(None, "red"), (slo.objective, "green")] for slo in backend.slos]


def _with_objectives(
    platform: Platform, availability: float, latency_seconds: float, window: str = "30d"
) -> Platform:
    slos = (
        SLO(name="availability", sli=AvailabilitySLI(), objective=availability, window=window),
        SLO(name="latency", sli=LatencySLI(threshold_seconds=latency_seconds), objective=0.95, window=window),
    )
    services = tuple(
        dataclasses.replace(s, slos=slos) if s.name == "backend" else s for s in platform.services
    )
    return dataclasses.replace(platform, services=services)


def test_changing_an_slo_in_the_model_moves_the_dashboard_thresholds() -> None:
    changed = dashboards_json(_with_objectives(edu, 0.98, 1.0))["obs-svc-backend"]
    by_id = panels_by_id(changed)
    assert _override_steps(by_id[links.ServicePanel.SLO_STATUS])[0] == [(None, "red"), (0.98, "green")]
    latency = by_id[links.ServicePanel.LATENCY_PERCENTILES]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert latency[-1]["value"] == 1.0
    error_ratio = by_id[links.ServicePanel.ERROR_RATIO]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    # Orange at the budget rate (2%), red at the fast-burn page rate (14.4 x 2%).
    assert [s["value"] for s in error_ratio] == [None, pytest.approx(0.02), pytest.approx(0.288)]


@pytest.mark.parametrize(("window", "page"), [("30d", 14.4), ("28d", 13.44), ("7d", 3.36)])
def test_burn_rate_lines_follow_the_slo_window(window: str, page: float) -> None:
    data = dashboards_json(_with_objectives(edu, 0.999, 0.3, window))["obs-svc-backend"]
    steps = panels_by_id(data)[links.ServicePanel.BURN_RATE]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == pytest.approx(page)


def test_latency_panels_carry_exemplars_and_links_to_slow_traces() -> None:
    by_id = panels_by_id(dashboards_json()["obs-svc-backend"])
    heat = by_id[links.ServicePanel.LATENCY_HEATMAP]
    assert (
        heat["type"] == "heatmap"
        and heat["targets"][0]["exemplar"] is True
        and heat["targets"][0]["format"] == "heatmap"
    )
    # The y axis is durations; the cells are counts of requests, not durations.
    assert heat["options"]["yAxis"]["unit"] == "s" and heat["options"]["cellValues"]["unit"] == "reqps"
    assert heat["targets"][0]["expr"].startswith("sum by (le) (rate(")  # per second: no cell counts a request twice
    percentiles = by_id[links.ServicePanel.LATENCY_PERCENTILES]
    assert any(t.get("exemplar") for t in percentiles["targets"])
    (slow,) = percentiles["fieldConfig"]["defaults"]["links"]
    assert slow["url"].startswith(f"{edu.jaeger_url}/search?service=backend&")
    assert "minDuration=300ms" in slow["url"]
    slowest = by_id[links.ServicePanel.SLOWEST_ROUTES]["fieldConfig"]["defaults"]["links"][0]["url"]
    assert "tags=" in slowest and "${__data.fields.http_route}" in slowest


def test_service_dashboard_links_to_its_logs_traces_and_dependencies() -> None:
    data = dashboards_json()["obs-svc-backend"]
    titles = {link["title"]: link["url"] for link in data["links"]}
    assert titles["Traces of backend in Jaeger"].startswith(f"{edu.jaeger_url}/search?service=backend")
    assert titles["Logs of backend"].startswith("/explore?")
    assert "service.name" in titles["Logs of backend"] and "elasticsearch" in titles["Logs of backend"]
    assert titles["postgres dashboard"].startswith(f"/d/{links.POSTGRES_UID}?")
    assert titles["redis dashboard"].startswith(f"/d/{links.REDIS_UID}?")


def test_the_overview_has_a_row_per_service_linking_to_its_dashboard() -> None:
    data = dashboards_json()[links.OVERVIEW_UID]
    rows = [p for p in data["panels"] if p["type"] == "row"]
    assert [r["title"].split(" ")[0] for r in rows] == [
        *(s.name for s in edu.instrumented_services),
        "Probed",
    ]
    for service in edu.instrumented_services:
        service_panels = [
            p
            for p in iter_panels(data)
            if any(f'service="{service.name}"' in t["expr"] for t in p.get("targets", []))
        ]
        titles = {p["title"] for p in service_panels}
        assert {"SLO attainment", "Budget left", "Burn rate 1h", "Traffic", "Errors", "p95 latency"} <= titles
        assert all(p["links"][0]["url"].startswith(f"/d/obs-svc-{service.name}") for p in service_panels)


def test_the_slo_dashboard_filters_every_slo_by_the_service_variable() -> None:
    data = dashboards_json()[links.SLO_UID]
    burn = panels_by_id(data)[links.SLOPanel.BURN_RATE_WINDOWS]
    # One query per alert window, whatever the number of SLOs: the recordings carry service and slo.
    assert [t["legendFormat"] for t in burn["targets"]] == [
        "{{service}} {{slo}} 5m",
        "{{service}} {{slo}} 1h",
        "{{service}} {{slo}} 6h",
        "{{service}} {{slo}} 1d",
        "{{service}} {{slo}} 3d",
    ]
    assert all('service=~"$service"' in t["expr"] for t in burn["targets"])
    alert_state = panels_by_id(data)[links.SLOPanel.ALERT_STATE]
    assert "ALERTS" in alert_state["targets"][0]["expr"]


def test_renaming_a_recording_rule_breaks_the_build_not_the_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dashboards read the names obs.slo gives; a rule that records under another name (typed
    # in the rules module instead of taken from obs.slo) stops the build that would ship both.
    from obs.builder import render
    from obs.rules import rulefile as rules

    record = rules.RuleFile.record

    def renamed(self: rules.RuleFile, group: list[dict[str, Any]], name: str, *args: Any) -> None:
        record(self, group, name.replace("slo:sli_error:", "slo:sli_err:"), *args)

    monkeypatch.setattr(rules.RuleFile, "record", renamed)
    with pytest.raises(
        RenderError,
        match=r"services\[backend\]\.slos\[availability\]: records 'slo:sli_err:ratio_rate5m', which "
        r"obs.slo.recordings does not list; did you mean 'slo:sli_error:ratio_rate5m'\?",
    ):
        render(edu, environments=["prod"], groups=["rules", "grafana"])


def test_a_window_the_rules_stop_recording_breaks_the_build_not_the_panel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rules and obs.slo.recordings both stop recording the 3d ratio (the longest row's window):
    # the SLO dashboard's 3d burn line would be empty, so the build stops, naming it.
    from obs import slo
    from obs.builder import render

    recording_windows = slo.recording_windows
    monkeypatch.setattr(slo, "recording_windows", lambda s, table=None: recording_windows(s, table)[:-1])
    assert "3d" not in slo.recording_windows(edu.service("backend").slos[0])
    with pytest.raises(
        RenderError,
        match=r"dashboards: services\[backend\]\.slos\[availability\]: reads the recording 'slo:sli_error:ratio_rate3d', "
        r"which the rules do not record for this SLO",
    ):
        render(edu, environments=["prod"], groups=["rules", "grafana"])


def test_burn_rate_lines_and_windows_are_the_alerts_own() -> None:
    backend = edu.service("backend")
    fast, medium, slow, very_slow = alert_windows(backend.slos[0])
    by_id = panels_by_id(dashboards_json()["obs-svc-backend"])
    steps = by_id[links.ServicePanel.BURN_RATE]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, medium.factor, fast.factor]
    # The 6h alert pages in the window table: the panel must not call it a ticket.
    assert (
        medium.severity == "page"
        and "the next one pages" in by_id[links.ServicePanel.BURN_RATE]["description"]
    )
    burn = panels_by_id(dashboards_json()[links.SLO_UID])[links.SLOPanel.BURN_RATE_WINDOWS]
    windows = [t["legendFormat"].rsplit(" ", 1)[1] for t in burn["targets"]]
    assert windows == [fast.short_window, *(w.long_window for w in (fast, medium, slow, very_slow))]


def test_an_slo_without_paging_says_its_fast_burn_opens_a_ticket() -> None:
    services = tuple(
        dataclasses.replace(s, slos=tuple(dataclasses.replace(o, page=False) for o in s.slos))
        for s in edu.services
    )
    burn = panels_by_id(dashboards_json(dataclasses.replace(edu, services=services))["obs-svc-backend"])[
        links.ServicePanel.BURN_RATE
    ]
    assert "the fast-burn alert opens a ticket" in burn["description"]


def test_dependency_dashboards_are_left_out_when_the_platform_has_no_such_dependency() -> None:
    bare = dataclasses.replace(
        edu,
        dependencies=(),
        services=tuple(dataclasses.replace(s, depends_on=()) for s in edu.services),
    )
    assert links.POSTGRES_UID not in dashboards_json(bare)
    assert links.REDIS_UID not in dashboards_json(bare)
    assert links.NODE_UID in dashboards_json(bare)


def test_blackbox_dashboard_covers_every_probed_site() -> None:
    data = dashboards_json()[links.BLACKBOX_UID]
    service_var = next(v for v in data["templating"]["list"] if v["name"] == "service")
    assert service_var["query"].split(",") == [s.name for s in edu.probed_services]
    tls = panels_by_id(data)[links.BlackboxPanel.TLS_EXPIRY]
    assert (
        "probe_ssl_earliest_cert_expiry" in tls["targets"][0]["expr"]
        and tls["fieldConfig"]["defaults"]["unit"] == "s"
    )


def test_every_panel_has_a_description_long_enough_to_say_what_to_do() -> None:
    for uid, data in dashboards_json().items():
        for panel in iter_panels(data):
            if panel["type"] != "row":
                assert len(panel["description"].split()) >= 8, (uid, panel["title"])


def test_the_variables_an_slo_alert_link_sets_exist_on_the_slo_dashboard() -> None:
    url = links.dashboard_url(
        edu.grafana_url, links.SLO_UID, links.SLOPanel.BURN_RATE_WINDOWS, service="backend", slo="latency"
    )
    wanted = {
        part.split("=")[0].removeprefix("var-")
        for part in url.split("?")[1].split("&")
        if part.startswith("var-")
    }
    variables = {v["name"]: v for v in dashboards_json()[links.SLO_UID]["templating"]["list"]}
    assert wanted == {"service", "slo"} and wanted <= set(variables)
    assert variables["slo"]["query"].split(",") == sorted({slo.name for s in edu.services for slo in s.slos})
    burn = panels_by_id(dashboards_json()[links.SLO_UID])[links.SLOPanel.BURN_RATE_WINDOWS]
    assert all('slo=~"$slo"' in t["expr"] for t in burn["targets"])


def test_firing_alerts_mark_every_service_graph_since_when() -> None:
    data = dashboards_json()["obs-svc-backend"]
    marks = [a for a in data["annotations"]["list"] if a["name"] == "Firing alerts"]
    assert [(m["expr"], m["datasource"]["uid"], m["enable"]) for m in marks] == [
        ('ALERTS{service="$service", alertstate="firing"}', "${datasource}", True)
    ]
    service = next(d for d in dashboards(edu, edu.environments[0]) if d.uid == "obs-svc-backend")
    assert any(q.where == "dashboard obs-svc-backend annotation 'Firing alerts'" for q in service.queries())


def test_failing_routes_say_who_is_hit_and_lead_to_their_logs_and_traces() -> None:
    data = dashboards_json()["obs-svc-backend"]
    failing = next(p for p in iter_panels(data) if p["title"].startswith("Failing routes"))
    (target,) = failing["targets"]
    assert (
        target["instant"] is True
        and 'http_response_status_code=~"5.."' in target["expr"]
        and "$__range" in target["expr"]
    )
    titles = [link["title"] for link in failing["fieldConfig"]["defaults"]["links"]]
    assert titles == ["Error logs of this route", "Traces of this route"]


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}/{i}").items()}
    return {path: value}


#: Keys Grafana reads that the SDK's models do not carry: the dashboard's null id (provisioning
#: matches by uid) and the Prometheus-specific fields of an annotation query.
SDK_UNMODELLED = re.compile(r"^/id$|^/annotations/list/\d+/(step|titleFormat|tagKeys|useValueForTime)$")


@pytest.mark.parametrize("uid", sorted(dashboards_json()))
def test_the_foundation_sdk_reads_back_every_generated_dashboard_without_loss(uid: str) -> None:
    from grafana_foundation_sdk.models.dashboard import Dashboard as SDKDashboard

    from obs.grafana.model import plain

    emitted = dashboards_json()[uid]
    read_back = _leaves(plain(SDKDashboard.from_json(emitted).to_json()))
    lost = {k: v for k, v in _leaves(emitted).items() if k not in read_back and not SDK_UNMODELLED.match(k)}
    assert lost == {}
    changed = {
        k: (v, read_back[k]) for k, v in _leaves(emitted).items() if k in read_back and read_back[k] != v
    }
    assert changed == {}


def test_logs_and_traces_links_open_the_environment_the_picked_prometheus_reports() -> None:
    """One Elasticsearch and one Jaeger hold every environment: a prod dashboard's links must not
    show dev's lines. The environment comes from the picked Prometheus (target_info), hidden."""
    data = dashboards_json()["obs-svc-backend"]
    variables = {v["name"]: v for v in data["templating"]["list"]}
    env = variables["environment"]
    assert env["query"] == "label_values(target_info, deployment_environment)" or env["query"].get("query") == (
        "label_values(target_info, deployment_environment)"
    )
    assert env["hide"] == 2 and env["datasource"]["uid"] == "${datasource}"
    assert env["current"]["value"] == "prod"
    urls = [
        link["url"]
        for panel in panels_by_id(data).values()
        for link in [*(panel.get("fieldConfig", {}).get("defaults", {}).get("links") or []), *(panel.get("links") or [])]
    ] + [link["url"] for link in data.get("links") or []]
    logs = [u for u in urls if u.startswith("/explore")]
    traces = [u for u in urls if "/search?" in u]
    assert logs and traces
    assert all("service.environment" in unquote(u) and "${environment}" in unquote(u) for u in logs), logs
    assert all('"deployment.environment":"${environment}"' in unquote(u) for u in traces), traces
