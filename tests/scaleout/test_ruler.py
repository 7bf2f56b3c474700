"""Which rules run where, the store's ruler files, and the checks that judge them with real tools."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs.builder import build, render
from obs.checks import ruler as ruler_checks
from obs.errors import RenderError
from obs.model import MetricsStore
from obs.renderers.ruler import PLACEMENT_PATH
from obs.rules.rulefile import RuleFile
from obs.scaleout import check_placement
from tests.scaleout.platforms import MIMIR, STORES, THANOS, VM, shop

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (apt-get install -y prometheus)")
needs_vmalert = pytest.mark.skipif(not shutil.which("vmalert"), reason="vmalert not installed (apt-get install -y victoria-metrics)")


def _files(platform: Any, env: str = "prod") -> dict[str, Any]:
    result = render(platform, [env], ["ruler"])
    return {path.removeprefix(f"{env}/"): yaml.safe_load(data) for path, data in result.files.items()}


def _placement(platform: Any) -> dict[str, Any]:
    placement: dict[str, Any] = _files(platform)[PLACEMENT_PATH]
    return placement


SLO_FILE = "prometheus/rules/slo-api-availability.yml"


@pytest.mark.parametrize(
    ("store", "agent", "local", "ruler"),
    [
        (None, False, {SLO_FILE, "prometheus/rules/services.yml", "prometheus/rules/targets.yml"}, set()),
        (VM, False, {"prometheus/rules/services.yml", "prometheus/rules/targets.yml", "prometheus/rules/self-monitoring.yml"}, {SLO_FILE}),
        (MIMIR, True, set(), {SLO_FILE, "prometheus/rules/services.yml", "prometheus/rules/targets.yml", "prometheus/rules/self-monitoring.yml"}),
    ],
)  # fmt: skip
def test_which_rules_run_where(store: MetricsStore | None, agent: bool, local: set[str], ruler: set[str]) -> None:
    placement = _placement(shop(store, agent=agent))
    sources = {entry["rules"] for entry in placement["ruler"]}
    assert local <= set(placement["local"]) and (not local) == (not placement["local"])
    assert ruler <= sources
    assert not set(placement["local"]) & sources
    assert placement["agent_mode"] is agent
    assert placement["scope"] == ({"environment": "prod"} if ruler else {})


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        (VM, {"ruler/vmalert/rules/slo-api-availability.yml", "ruler/vmalert/flags.yml"}),
        (THANOS, {"ruler/thanos/rules/slo-api-availability.yml", "ruler/thanos/flags.yml", "ruler/thanos/query.yml",
                  "ruler/thanos/alertmanagers.yml", "ruler/thanos/remote-write.yml"}),
        # Mimir's local rule storage layout: <tenant>/<namespace>.yml (the namespace names platform and environment).
        (MIMIR, {"ruler/mimir/shop-prod/shop-prod-slo-api-availability.yml"}),
        (MetricsStore(kind="mimir", write_url="http://mimir/api/v1/push", query_url="http://mimir/prometheus"),
         {"ruler/mimir/anonymous/shop-prod-slo-api-availability.yml"}),
    ],
)  # fmt: skip
def test_each_ruler_gets_its_own_files(store: MetricsStore, expected: set[str]) -> None:
    files = set(_files(shop(store)))
    assert expected <= files
    assert PLACEMENT_PATH in files and "ruler/tests/slo-api-availability.test.yml" in files
    assert not any(f.startswith("ruler/") and "runtime-overrides" in f for f in files)


def test_the_ruler_reads_and_labels_only_its_environment() -> None:
    rules = _files(shop(VM))["ruler/vmalert/rules/slo-api-availability.yml"]
    every = [rule for group in rules["groups"] for rule in group["rules"]]
    assert every
    for rule in every:
        assert rule["labels"]["environment"] == "prod"
        assert 'environment="prod"' in rule["expr"] or "{" not in rule["expr"], rule["expr"]


def test_vmalert_flags() -> None:
    flags = _files(shop(VM))["ruler/vmalert/flags.yml"]
    assert flags == [
        "-rule=/etc/vmalert/rules/*.yml",
        "-datasource.url=http://vm.example.org:8428",
        "-remoteWrite.url=http://vm.example.org:8428/api/v1/write",
        "-remoteWrite.disablePathAppend",
        "-remoteRead.url=http://vm.example.org:8428",
        "-notifier.url=http://alertmanager:9093",
        "-evaluationInterval=30s",
        "-disableAlertgroupLabel",
    ]


def test_thanos_ruler_queries_the_querier_and_writes_to_receive_as_the_tenant() -> None:
    files = _files(shop(THANOS))
    assert files["ruler/thanos/query.yml"] == [
        {"static_configs": ["query.example.org:443"], "scheme": "https", "http_config": {"bearer_token_file": "/etc/prometheus/secrets/thanos-token"}}
    ]
    (write,) = files["ruler/thanos/remote-write.yml"]["remote_write"]
    assert write["headers"] == {"THANOS-TENANT": "shop-prod"} and write["url"] == THANOS.write_url
    assert files["ruler/thanos/alertmanagers.yml"] == {
        "alertmanagers": [{"static_configs": ["alertmanager:9093"], "scheme": "http", "timeout": "10s", "api_version": "v2"}]
    }
    assert '--label=environment="prod"' in files["ruler/thanos/flags.yml"]


def test_mimir_deduplicates_an_ha_pair_of_the_tenant() -> None:
    files = _files(shop(MIMIR, replicas=2))
    assert files["ruler/mimir/runtime-overrides.yml"] == {
        "overrides": {"shop-prod": {"accept_ha_samples": True, "ha_cluster_label": "cluster", "ha_replica_label": "__replica__"}}
    }


def test_a_local_rule_reading_a_ruler_recording_stops_the_build() -> None:
    from obs.promql import Query

    ruler = RuleFile("slo-api-availability", records=["slo:sli_error:ratio_rate5m"])
    local = RuleFile("custom", queries=[Query('slo:sli_error:ratio_rate5m{service="api"} > 0.1', "alerts/x.py: alert Burning")])
    expected = "alerts/x.py: alert Burning reads slo:sli_error:ratio_rate5m, which only the metrics store's ruler records"
    with pytest.raises(RenderError, match=re.escape(expected)):
        check_placement([local], [ruler])
    check_placement([local, ruler], [])  # all local: fine


# --- the checks, with real tools --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """prod of the shop with each store kind (Mimir in agent mode, HA pairs), built once."""
    out: dict[str, Path] = {}
    for kind, store in STORES.items():
        folder = tmp_path_factory.mktemp(kind) / "build"
        build(shop(store, replicas=2, agent=kind == "mimir"), folder, ["prod"], ["prometheus", "rules", "ruler"])
        out[kind] = folder / "prod"
    return out


def _outcomes(env_dir: Path) -> dict[str, tuple[str, str]]:
    return {o.name: (o.status, o.detail) for o in ruler_checks.check(env_dir)}


@needs_promtool
@needs_vmalert
@pytest.mark.parametrize("kind", list(STORES))
def test_every_check_passes_on_what_obs_writes(built: dict[str, Path], kind: str) -> None:
    outcomes = _outcomes(built[kind])
    assert outcomes, "no check ran"
    # A vmalert older than 1.90 (Debian's 1.79) cannot say whether it reads keep_firing_for.
    allowed = {"vmalert reads keep_firing_for": "skipped"}
    assert {name: o for name, o in outcomes.items() if o[0] != allowed.get(name, "passed")} == {}
    names = " ".join(outcomes)
    assert "rule placement" in names and "promtool check rules" in names
    assert ("vmalert -dryRun" in names) is (kind == "victoriametrics")
    assert ("--agent" in names) is (kind == "mimir")
    assert ("matches thanos-rule-query" in names) is (kind == "thanos")
    assert ("matches mimir-rule-namespace" in names) is (kind == "mimir")


def _copy(env_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "prod"
    shutil.copytree(env_dir, copy)
    return copy


def _edit_yaml(path: Path, edit: Any) -> None:
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(edit(data) or data))


@needs_promtool
@needs_vmalert
@pytest.mark.parametrize(
    ("kind", "file", "edit", "failing", "detail"),
    [
        # The local Prometheus also loads an SLO file: it would be evaluated twice.
        ("victoriametrics", "prometheus/prometheus.yml", lambda c: c["rule_files"].append("rules/slo-api-availability.yml"),
         "rule placement", "is evaluated by the local Prometheus and by the ruler"),
        ("victoriametrics", "ruler/vmalert/flags.yml", lambda f: f.append("-notifier.urls=http://am:9093"),
         "vmalert -dryRun", "flag provided but not defined"),
        ("thanos", "ruler/thanos/query.yml", lambda q: q[0].update(static_config=["q:9090"]),
         "ruler/thanos/query.yml matches thanos-rule-query", "static_config"),
        ("thanos", "ruler/thanos/flags.yml", lambda f: f.append("--query.replica-labels=replica"),
         "ruler/thanos/flags.yml matches thanos-rule-flags", "--query.replica-labels"),
        ("thanos", "ruler/thanos/remote-write.yml", lambda w: w["remote_write"][0].update(queue_config={"max_shard": 3}),
         "promtool check config ruler/thanos/remote-write.yml", "max_shard"),
        ("mimir", "ruler/mimir/shop-prod/shop-prod-slo-api-availability.yml", lambda n: n["groups"][0].update(source_tenant=["a"]),
         "ruler/mimir/shop-prod/shop-prod-slo-api-availability.yml matches mimir-rule-namespace", "source_tenant"),
        ("mimir", "ruler/mimir/runtime-overrides.yml", lambda o: o["overrides"]["shop-prod"].update(accept_ha_sample=True),
         "ruler/mimir/runtime-overrides.yml matches mimir-runtime-overrides", "accept_ha_sample"),
        # An agent configuration with rules in it.
        ("mimir", "prometheus/prometheus.yml", lambda c: c.update(rule_files=["rules/services.yml"]),
         "promtool check config --agent", "not allowed in agent mode"),
    ],
)  # fmt: skip
def test_every_check_can_fail(built: dict[str, Path], tmp_path: Path, kind: str, file: str, edit: Any, failing: str, detail: str) -> None:
    env_dir = _copy(built[kind], tmp_path)
    _edit_yaml(env_dir / file, edit)
    (status, text), *_ = [o for name, o in _outcomes(env_dir).items() if name.startswith(failing)]
    assert status == "failed"
    assert detail in text


@needs_promtool
def test_the_rulers_tests_pass_and_catch_a_rule_that_reads_every_environment(built: dict[str, Path], tmp_path: Path) -> None:
    """The ruler's promtool tests run its scoped rules; a rule that forgets the scope reads another
    environment's series and the isolation case fails."""
    outcomes = list(ruler_checks.test(built["victoriametrics"]))
    assert outcomes and all(o.status == "passed" for o in outcomes), [(o.name, o.detail[:500]) for o in outcomes if o.status != "passed"]
    env_dir = _copy(built["victoriametrics"], tmp_path)
    rules = env_dir / "ruler/vmalert/rules/slo-api-availability.yml"
    rules.write_text(rules.read_text().replace(', environment="prod"', ""))
    from obs.tools import run_tool

    tests = env_dir / "ruler/tests"
    document = yaml.safe_load((tests / "slo-api-availability.test.yml").read_text())
    document["tests"] = [case for case in document["tests"] if case["name"].endswith("[another environment's series: silent]")]
    assert document["tests"]
    (tests / "isolation.test.yml").write_text(yaml.safe_dump(document))
    broken = run_tool("promtool", ["test", "rules", "isolation.test.yml"], cwd=tests, timeout=300)
    assert not broken.ok
    assert "another environment's series: silent" in broken.output


@needs_vmalert
def test_a_vmalert_that_predates_keep_firing_for_checks_the_rest(built: dict[str, Path], tmp_path: Path) -> None:
    env_dir = _copy(built["victoriametrics"], tmp_path)
    _edit_yaml(env_dir / "ruler/vmalert/rules/slo-api-availability.yml", lambda r: r["groups"][-1]["rules"][0].update(keep_firing_for="15m"))
    outcomes = {name: status for name, (status, _) in _outcomes(env_dir).items() if name.startswith("vmalert")}
    if "vmalert reads keep_firing_for" in outcomes:  # Debian 12's vmalert 1.79
        assert outcomes == {"vmalert reads keep_firing_for": "skipped", "vmalert -dryRun (flags.yml and the rule files without keep_firing_for)": "passed"}
    else:
        assert outcomes == {"vmalert -dryRun (flags.yml and the rule files)": "passed"}
