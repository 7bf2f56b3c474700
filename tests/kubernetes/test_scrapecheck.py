"""Scrape jobs with kubernetes_sd_configs are checked by vmagent, since Debian's promtool lacks that discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs.kube.discovery import kubernetes_scrape_config
from obs.kube.scrapecheck import check_scrape_configs, scrape_part, uses_kubernetes_discovery
from obs.runtime.binaries import available

needs_vmagent = pytest.mark.skipif(not available("vmagent"), reason="vmagent not found: apt-get install -y victoria-metrics")


def prometheus_yml() -> dict[str, Any]:
    job = kubernetes_scrape_config("backend", namespace="prod", selector={"app": "backend"}, port_name="http", service="backend", team="learning")
    static = {"job_name": "node", "static_configs": [{"targets": ["node:9100"]}]}
    return {
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s", "external_labels": {"environment": "prod"}},
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "scrape_configs": [job, static],
    }


def test_the_scraper_reads_only_the_scrape_part() -> None:
    config = prometheus_yml()
    assert scrape_part(config) == {"global": {"scrape_interval": "30s", "external_labels": {"environment": "prod"}}, "scrape_configs": config["scrape_configs"]}
    assert uses_kubernetes_discovery(config)
    assert not uses_kubernetes_discovery({"scrape_configs": [config["scrape_configs"][1]]})


@needs_vmagent
def test_the_discovery_job_passes() -> None:
    outcome = check_scrape_configs(prometheus_yml())
    assert (outcome.status, outcome.detail) == ("passed", "2 scrape jobs")


@needs_vmagent
@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("action", "keeep", 'cannot parse Prometheus config from "scrape_configs": cannot parse `scrape_config`: cannot parse `relabel_configs` for `job_name` "backend": error when parsing `relabel_config` #1: unknown `action` "keeep"'),
        ("sd", {"rol": "pod"}, 'cannot parse Prometheus config from "scrape_configs": cannot unmarshal data: yaml: unmarshal errors: line 11: field rol not found in type kubernetes.SDConfig'),
    ],
)
def test_a_broken_job_fails_in_one_line(field: str, value: Any, detail: str) -> None:
    config = prometheus_yml()
    job = config["scrape_configs"][0]
    if field == "sd":
        job["kubernetes_sd_configs"][0].update(value)
    else:
        job["relabel_configs"][0][field] = value
    outcome = check_scrape_configs(config)
    assert (outcome.status, outcome.detail) == ("failed", detail)


def test_without_vmagent_the_check_is_skipped_with_the_package_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBS_VMAGENT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = check_scrape_configs(prometheus_yml())
    assert (outcome.status, outcome.detail) == ("skipped", "skipped: vmagent not found: apt-get install -y victoria-metrics (or set OBS_VMAGENT)")
