"""Third-party exporter configuration: blackbox modules checked by the real binary, custom
postgres queries tied to the contract, no secret in any file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from obs import contract, tools
from obs.checks import exporters as exporters_checks
from obs.renderers import exporters
from tests.pipelines.conftest import ENVIRONMENTS, golden_files

needs_blackbox = pytest.mark.skipif(
    shutil.which(exporters.BLACKBOX_BINARY) is None, reason="prometheus-blackbox-exporter not installed (Debian package)"
)


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "exporters"))
    assert len(files) == 6 * len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"exporters/{rel}", path.read_bytes())


def test_the_probe_module_is_the_one_the_scrape_config_uses(built: Path) -> None:
    modules = yaml.safe_load((built / "prod" / exporters.BLACKBOX_PATH).read_text())["modules"]
    assert modules[contract.BLACKBOX_HTTP_MODULE]["prober"] == "http"
    assert {"tcp_connect", "tls_connect", "http_2xx_tls"} <= set(modules)


@needs_blackbox
def test_the_real_blackbox_exporter_accepts_the_modules(built: Path) -> None:
    outcome = exporters_checks.blackbox_config_check(built / "prod" / exporters.BLACKBOX_PATH)
    assert outcome.status == "passed", outcome.detail


@needs_blackbox
def test_the_real_blackbox_exporter_rejects_a_broken_module(tmp_path: Path) -> None:
    config = exporters.blackbox()
    config["modules"]["http_2xx_tls"]["http"]["fail_if_not_sssl"] = True
    path = tmp_path / "blackbox.yml"
    path.write_text(yaml.safe_dump(config))
    outcome = exporters_checks.blackbox_config_check(path)
    assert outcome.status == "failed"
    assert "fail_if_not_sssl not found" in outcome.detail


def test_an_unknown_prober_is_caught_by_obs_since_the_exporter_accepts_it(tmp_path: Path) -> None:
    # blackbox_exporter 0.23 --config.check passes `prober: carrier-pigeon`; probes would then fail at run time.
    config = exporters.blackbox()
    config["modules"]["tcp_connect"]["prober"] = "carrier-pigeon"
    assert exporters.blackbox_problems(config) == ["module tcp_connect: prober 'carrier-pigeon' is not one of dns, grpc, http, icmp, tcp"]
    assert exporters.blackbox_problems(exporters.blackbox()) == []


def test_a_missing_blackbox_binary_is_a_skip_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBS_BLACKBOX_EXPORTER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "_docker_answers", lambda: False)
    outcome = exporters_checks.blackbox_config_check(tmp_path / "blackbox.yml")
    assert outcome.status == "skipped"
    assert "apt-get install -y prometheus-blackbox-exporter" in outcome.detail


def test_custom_queries_produce_only_declared_metrics() -> None:
    assert exporters.undeclared_metrics() == []
    names = [n for q in exporters.POSTGRES_QUERIES for n in q.metric_names()]
    assert names == ["pg_long_running_transactions_count", "pg_long_running_transactions_max_age_seconds"]


def test_an_undeclared_metric_fails_the_build() -> None:
    rogue = exporters.CustomQuery("pg_rogue", "SELECT 1 AS value", {}, {"value": "x"})
    assert exporters.undeclared_metrics([rogue]) == ["pg_rogue_value"]


def test_the_custom_query_metrics_are_declared_in_the_contract() -> None:
    assert exporters.undeclared_metrics() == []
    for name in ("pg_long_running_transactions_count", "pg_long_running_transactions_max_age_seconds"):
        assert contract.SERIES_INDEX[name].source == "postgres_exporter"


def test_the_queries_file_has_the_postgres_exporter_shape(built: Path) -> None:
    queries = yaml.safe_load((built / "prod" / exporters.POSTGRES_QUERIES_PATH).read_text())
    (query,) = queries.values()
    assert query["master"] is True
    usages = {name: spec["usage"] for column in query["metrics"] for name, spec in column.items()}
    assert usages == {"datname": "LABEL", "count": "GAUGE", "max_age_seconds": "GAUGE"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_file_holds_a_credential(built: Path, env: str) -> None:
    files = [p for p in (built / env / "exporters").rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text()
        # Nothing a redaction rule would catch (user:password@, password=..., tokens).
        assert contract.redact(text) == text, path


def test_every_exporter_listens_on_its_own_address_not_every_interface(built: Path) -> None:
    prod = built / "prod" / "exporters"
    assert "--web.listen-address=node-exporter:9100" in (prod / "node" / "node-exporter.env").read_text()
    assert "--web.listen-address=blackbox-exporter:9115" in (prod / "blackbox" / "prometheus-blackbox-exporter.env").read_text()
    assert "PG_EXPORTER_WEB_LISTEN_ADDRESS=postgres-exporter:9187\n" in (prod / "postgres" / "postgres.env").read_text()
    assert "REDIS_EXPORTER_WEB_LISTEN_ADDRESS=redis-exporter:9121\n" in (prod / "redis" / "redis.env").read_text()
    for path in prod.rglob("*.env"):
        assert "=:" not in path.read_text() and "0.0.0.0" not in path.read_text(), path


def test_node_exporter_flags_exclude_pseudo_filesystems(built: Path) -> None:
    text = (built / "prod" / exporters.node_args_path("node-exporter:9100")).read_text()
    assert f"--collector.textfile.directory={exporters.TEXTFILE_DIR}" in text
    assert "tmpfs" in text and "overlay" in text
