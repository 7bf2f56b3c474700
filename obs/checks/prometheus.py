"""The written Prometheus configuration, checked by real tools.

``promtool check config`` checks the configuration, except the jobs that find pods through
``kubernetes_sd_configs``: Debian 12's promtool (2.42.0+ds) is built without Kubernetes discovery
and rejects them. Those jobs go to VictoriaMetrics' scraper instead (:mod:`obs.kube.scrapecheck`),
which implements the same discovery and relabeling and checks them strictly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Outcome
from obs.errors import ToolNotFoundError
from obs.kube.scrapecheck import check_scrape_configs, uses_kubernetes_discovery
from obs.renderers.prometheus import CONFIG_PATH
from obs.tools import run_tool

CHECK_NAME = "promtool check config"


def without_discovery(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without its ``kubernetes_sd_configs`` jobs (what promtool is left to check)."""
    jobs = [job for job in config.get("scrape_configs") or [] if not job.get("kubernetes_sd_configs")]
    return {**config, "scrape_configs": jobs}


def _promtool(folder: Path, name: str, what: str) -> Outcome:
    try:
        # syntax-only: credentials and rule files live on the Prometheus host, not here.
        result = run_tool("promtool", ["check", "config", "--syntax-only", name], cwd=folder)
    except ToolNotFoundError as exc:
        return Outcome(what, "skipped", str(exc))
    return Outcome(what, "passed" if result.ok else "failed", result.output)


def check(env_dir: Path) -> Iterable[Outcome]:
    """`promtool check config`, and vmagent's strict check of the Kubernetes discovery jobs."""
    path = env_dir / CONFIG_PATH
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        yield Outcome(CHECK_NAME, "failed", f"{path}: cannot read: {exc}")
        return
    if not isinstance(config, Mapping) or not uses_kubernetes_discovery(config):
        yield _promtool(path.parent, path.name, CHECK_NAME)
        return
    discovered = len(config["scrape_configs"]) - len(without_discovery(config)["scrape_configs"])
    with tempfile.TemporaryDirectory(prefix="obs-promtool-") as folder:
        (Path(folder) / path.name).write_text(yaml.safe_dump(without_discovery(config), sort_keys=True))
        yield _promtool(Path(folder), path.name, f"{CHECK_NAME} (all but the {discovered} kubernetes_sd jobs)")
    yield check_scrape_configs(config)


__all__ = ["CHECK_NAME", "check", "without_discovery"]
