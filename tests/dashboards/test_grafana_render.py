"""The Grafana artifact group: what the build writes (golden files), the provisioning Grafana reads,
the check on written files, and the lint stopping the build before anything is written."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu
from obs import links
from obs.artifacts import RenderContext, group
from obs.builder import build, render
from obs.checks import grafana as grafana_checks
from obs.errors import RenderError
from obs.grafana import Dashboard, Target, timeseries
from obs.grafana import provisioning as prov
from obs.model import Team
from obs.renderers import grafana
from tests.dashboards.grafana_support import ENVIRONMENTS, golden_files


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grafana-build")
    build(edu, out, groups=["grafana"])
    return out


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built))
    assert len(files) == len(ENVIRONMENTS) * 14
    for rel, path in files:
        golden(f"grafana/{rel}", path.read_bytes())


def test_the_registry_renders_with_this_module_and_checks_with_its_own() -> None:
    assert group("grafana").module == grafana.__name__
    assert group("grafana").checks == grafana_checks.__name__


def test_dashboards_land_in_a_folder_per_team(built: Path) -> None:
    found = {
        p.relative_to(built / "prod" / prov.DASHBOARDS_DIR).as_posix()
        for p in (built / "prod" / prov.DASHBOARDS_DIR).rglob("*.json")
    }
    assert "learning/obs-svc-backend.json" in found
    assert "integrations/obs-svc-bridge.json" in found
    assert f"platform/{links.OVERVIEW_UID}.json" in found
    # The built-in platform's own dashboards, each in its team's folder: obs API, UI export, grafanalib.
    assert {"learning/edu-journeys.json", "integrations/edu-roster-sync.json", "web/edu-cms.json"} <= found
    providers = _yaml(built / "prod" / prov.DASHBOARD_PROVIDERS_PATH)["providers"]
    assert {(p["folder"], p["options"]["path"]) for p in providers} == {
        (team, f"{prov.DASHBOARDS_MOUNT}/{team}") for team in ("integrations", "learning", "platform", "web")
    }
    assert all(p["allowUiUpdates"] is False and p["type"] == "file" for p in providers)
    # A dashboard whose file is gone goes too: Grafana keeps it, stale, under disableDeletion.
    assert all(p["disableDeletion"] is False for p in providers)


def test_the_infra_teams_dashboards_land_in_its_folder_whatever_its_name() -> None:
    # The node and probe dashboards follow Platform.infra_team (the team of their scrape jobs and
    # alerts); a dependency's dashboard stays with the dependency's team. The built-in platform's
    # infra team is "platform": the golden files show them there.
    sre = dataclasses.replace(edu, infra_team="sre", teams=(*edu.teams, Team("sre", chat_channel="#sre")))
    files = render(sre, environments=["prod"], groups=["grafana"]).files
    prefix = f"prod/{prov.DASHBOARDS_DIR}/"
    found = {path.removeprefix(prefix) for path in files if path.startswith(prefix)}
    assert {f"sre/{links.NODE_UID}.json", f"sre/{links.BLACKBOX_UID}.json"} <= found
    assert f"platform/{links.POSTGRES_UID}.json" in found  # the team of the postgres dependency
    providers = yaml.safe_load(files[f"prod/{prov.DASHBOARD_PROVIDERS_PATH}"])["providers"]
    assert ("sre", f"{prov.DASHBOARDS_MOUNT}/sre") in {(p["folder"], p["options"]["path"]) for p in providers}


def test_every_dashboard_query_goes_to_the_contract_check() -> None:
    artifacts = grafana.render(RenderContext(edu, edu.environments[0]))
    dashboards = [a for a in artifacts if a.path.endswith(".json")]
    assert all(a.queries for a in dashboards)
    assert sum(len(a.queries) for a in dashboards) > 80


def _datasources(built: Path, env: str = "prod") -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in _yaml(built / env / prov.DATASOURCES_PATH)["datasources"]}


def test_one_prometheus_per_environment_with_the_built_one_as_default(built: Path) -> None:
    for env in ENVIRONMENTS:
        ds = _datasources(built, env)
        proms = {uid: d for uid, d in ds.items() if d["type"] == "prometheus"}
        assert set(proms) == {f"prometheus-{e}" for e in ENVIRONMENTS}
        assert [uid for uid, d in ds.items() if d.get("isDefault")] == [f"prometheus-{env}"]


def test_exemplars_open_jaeger_by_the_label_the_instrumentation_writes(built: Path) -> None:
    prom = _datasources(built)["prometheus-prod"]
    assert prom["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": prov.JAEGER_UID}
    ]
    # The instrumentation puts the trace id in the exemplar under this label name.
    source = (Path(__file__).parents[2] / "instrumentation" / "_core.py").read_text()
    assert '"trace_id": trace_id' in source


def test_traces_open_their_logs_and_logs_open_their_trace(built: Path) -> None:
    ds = _datasources(built)
    to_logs = ds[prov.JAEGER_UID]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == prov.ELASTICSEARCH_UID and to_logs["filterByTraceID"] is True
    # `$$` is Grafana's escape: a single `$` would be expanded from the environment (to nothing).
    assert to_logs["query"] == 'trace.id:"$${__trace.traceId}"'
    (derived,) = ds[prov.ELASTICSEARCH_UID]["jsonData"]["dataLinks"]
    assert derived == {"field": "trace.id", "datasourceUid": prov.JAEGER_UID, "url": "$${__value.raw}"}


def test_secrets_and_environment_urls_are_environment_references(built: Path) -> None:
    text = (built / "prod" / prov.DATASOURCES_PATH).read_text()
    es = _datasources(built)[prov.ELASTICSEARCH_UID]
    # $NAME, not ${NAME}: Grafana expands the braced form, then the result again ("Pa$sw0rd" -> "Pa").
    assert es["secureJsonData"] == {"basicAuthPassword": "$OBS_ELASTICSEARCH_PASSWORD"}
    assert _datasources(built)["prometheus-staging"]["url"] == "$OBS_PROMETHEUS_URL_STAGING"
    assert "password" not in text.replace("basicAuthPassword", "")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("${__value.raw}", "$${__value.raw}"),
        ("a$b$$c", "a$$b$$$$c"),
        (prov.env_var("SECRET"), "$SECRET"),
        ({"k": ["$x", prov.env_var("Y")]}, {"k": ["$$x", "$Y"]}),
    ],
)
def test_literal_dollars_are_escaped_and_environment_references_are_not(value: Any, escaped: Any) -> None:
    assert prov.escape_dollars(value) == escaped


def test_environment_references_are_read_past_escaped_dollars() -> None:
    text = "url: $OBS_A\nlink: $${__value.raw} and $$LITERAL\npassword: $OBS_B\n"
    assert prov.env_references(text) == ["OBS_A", "OBS_B"]


def test_check_passes_on_the_build(built: Path) -> None:
    outcomes = list(grafana_checks.check(built / "prod"))
    assert [(o.name.split(":")[0], o.status) for o in outcomes] == [
        ("grafana dashboards", "passed"),
        ("grafana provisioning", "passed"),
    ]


def _copy(built: Path, tmp_path: Path) -> Path:
    env_dir = tmp_path / "prod"
    shutil.copytree(built / "prod", env_dir)
    return env_dir


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _edit_yaml(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


def _first_panel(d: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in d["panels"] if p["type"] != "row")


BREAKAGES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "dashboard",
        "unit removed",
        lambda d: _first_panel(d)["fieldConfig"]["defaults"].pop("unit"),
        "has no unit",
    ),
    (
        "dashboard",
        "string datasource",
        lambda d: _first_panel(d).update(datasource="Prometheus"),
        "is not of type 'object'",
    ),
    ("dashboard", "uid renamed", lambda d: d.update(uid="other"), "differs from the file name"),
    (
        "datasources",
        "literal secret",
        lambda d: d["datasources"][4]["secureJsonData"].update(basicAuthPassword="hunter2"),
        "literal secret",
    ),
    (
        "datasources",
        "braced environment reference",
        lambda d: d["datasources"][4]["secureJsonData"].update(basicAuthPassword="${OBS_ELASTICSEARCH_PASSWORD}"),
        "a $ inside the variable's value is lost; write $OBS_ELASTICSEARCH_PASSWORD",
    ),
    (
        "datasources",
        "unescaped $",
        lambda d: d["datasources"][4]["jsonData"]["dataLinks"][0].update(url="${__value.raw}"),
        "write $$",
    ),
    (
        "datasources",
        "dangling link",
        lambda d: d["datasources"][0]["jsonData"]["exemplarTraceIdDestinations"][0].update(
            datasourceUid="tempo"
        ),
        "'tempo', which is not provisioned",
    ),
    (
        "datasources",
        "two defaults",
        lambda d: d["datasources"][1].update(isDefault=True),
        "exactly one must be the default",
    ),
    (
        "providers",
        "folder without dashboards",
        lambda d: d["providers"].append(
            {**d["providers"][0], "name": "x", "options": {"path": f"{prov.DASHBOARDS_MOUNT}/ghost"}}
        ),
        "ghost/ holds no dashboards",
    ),
]


@pytest.mark.parametrize(
    ("target", "edit", "message"), [b[0:1] + b[2:] for b in BREAKAGES], ids=[b[1] for b in BREAKAGES]
)
def test_check_fails_on_hand_broken_output(
    built: Path, tmp_path: Path, target: str, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    env_dir = _copy(built, tmp_path)
    if target == "dashboard":
        _edit_json(env_dir / prov.dashboard_path("learning", "obs-svc-backend"), edit)
    elif target == "datasources":
        _edit_yaml(env_dir / prov.DATASOURCES_PATH, edit)
    else:
        _edit_yaml(env_dir / prov.DASHBOARD_PROVIDERS_PATH, edit)
    failed = [o for o in grafana_checks.check(env_dir) if o.status == "failed"]
    assert failed and message in failed[0].detail, [o.detail for o in failed]


def test_check_fails_when_no_dashboard_was_written(tmp_path: Path) -> None:
    (outcome,) = grafana_checks.check(tmp_path)
    assert outcome.status == "failed" and "no dashboard JSON" in outcome.detail


def test_a_lint_failure_stops_the_build_naming_dashboard_and_panel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = Dashboard(
        "obs-bad",
        "Bad",
        "d",
        "platform",
        (timeseries("Quiet", Target("up"), description="d d d", unit="s", id=3),),
    )

    original = Dashboard.to_json

    def broken(self: Dashboard) -> dict[str, Any]:
        data = original(self)
        data["panels"][0]["options"]["legend"]["showLegend"] = False
        return data

    monkeypatch.setattr(grafana, "dashboards", lambda platform, env: (bad,))
    monkeypatch.setattr(Dashboard, "to_json", broken)
    out = tmp_path / "out"
    with pytest.raises(RenderError, match=r"dashboard obs-bad panel 3 'Quiet': hides its legend"):
        build(dataclasses.replace(edu, dashboards=()), out, groups=["grafana"])
    assert not out.exists()


def test_a_uid_used_twice_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    one = Dashboard("obs-twice", "One", "d", "a", (timeseries("x", Target("up"), description="d", unit="s"),))
    monkeypatch.setattr(grafana, "dashboards", lambda platform, env: (one, one))
    with pytest.raises(RenderError, match="'obs-twice' of obs catalogue \\(obs-twice\\) is already used"):
        render(edu, groups=["grafana"])


def test_a_braced_reference_gets_its_own_fix_not_the_dollar_escape() -> None:
    # "${OBS_X}" is an environment reference in the wrong form: the fix is $OBS_X, not $${OBS_X}.
    assert prov.braced_references("url: ${OBS_X}, link: $${__value.raw}") == ["${OBS_X}"]
    assert prov.unescaped_dollars("${OBS_X}") == []
    assert prov.unescaped_dollars("${__value.raw}") == ["${__value.raw}"]
